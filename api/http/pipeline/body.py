"""The body, step 2 of the pipeline: read only once the headers are authenticated, then the signature.

:class:`SignedBody` refuses a declared ``Content-Length`` over the limit before reading anything, then
reads the body chunk by chunk (413 ``PAYLOAD_TOO_LARGE`` as soon as it passes ``settings.http.max_body_bytes``, or
``max_upload_bytes`` for a handler with ``opt["upload"]``), hashing it as it streams in. The signature
covers SHA-256 of the body, so it is verified now (:meth:`.authentication.PartnerAuthenticator.check_signature`,
a failure charged to the client address like any authentication failure); ``request.auth`` becomes the
:class:`~api.security.verifier.AuthenticatedRequest`.

**Large bodies are bounded.** A body over ``settings.http.large_body_bytes`` (declared, or once it
streams past that size) needs one of ``settings.http.max_large_bodies`` slots of this process; with
none free it is refused at once with 503 ``SERVICE_UNAVAILABLE`` and ``Retry-After`` (the client
retries; nothing was recorded). So at most that many large bodies stream at a time, whatever the
number of connections: with uploads hashed and never kept, and other bodies capped at
``max_body_bytes``, the memory bodies take is at most ``max_large_bodies x max_body_bytes`` plus
``large_body_bytes`` per other connection (docs/performance.md, "Edge").

Uploads (:mod:`api.http.uploads`) are fed to their digester as they stream and never kept: the handler
gets an empty body and the :class:`~api.http.uploads.Upload` through :func:`upload_of`. A malformed
upload is not reported yet: the whole body must be read for the signature, and the error is for an
authenticated, admitted caller only (:func:`deferred_error`, raised by :mod:`.admission`). Other bodies
(at most ``max_body_bytes``) are kept and handed to the handler unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, cast

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPRequestEvent, HTTPScope, Receive, ReceiveMessage, Scope, Send

from api.http.context import client_address, header, query_string, raw_path
from api.http.errors import ApiError
from api.http.pipeline.authentication import PartnerAuthenticator
from api.http.pipeline.content import kept_body
from api.http.pipeline.limits import RateLimits
from api.http.threads import run_blocking
from api.http.uploads import Digester, Upload, digester_for
from api.security import AuthenticationError

BODY_SHA256 = "ledger.body_sha256"
UPLOAD = "ledger.upload"


def too_large(limit: int) -> ApiError:
    return ApiError("PAYLOAD_TOO_LARGE", f"the body exceeds {limit} bytes", limit=limit)


class _Upload:
    """Feeds a digester until it fails, keeping the failure for later (see the module docstring)."""

    def __init__(self, content_type: str | None) -> None:
        self.error: ApiError | None = None
        self.digester: Digester | None = None
        try:
            self.digester = digester_for(content_type)
        except ApiError as error:
            self.error = error

    def feed(self, chunk: bytes) -> None:
        if self.error is None and self.digester is not None:
            try:
                self.digester.feed(chunk)
            except ApiError as error:
                self.error = error

    def finish(self) -> Upload | ApiError:
        if self.error is None and self.digester is not None:
            try:
                return self.digester.finish()
            except ApiError as error:
                return error
        return self.error or ApiError("VALIDATION_ERROR", "unreadable upload")


class LargeBodies:
    """The slots for large bodies in this process (one event loop: no lock needed)."""

    def __init__(self, threshold: int, slots: int) -> None:
        self.threshold = threshold
        self.free = slots

    def take(self) -> None:
        """Take a slot, or 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After`` when none is free."""
        if self.free <= 0:
            raise ApiError(
                "SERVICE_UNAVAILABLE",
                "too many large request bodies are being received; retry after Retry-After",
                headers={"Retry-After": "1"},
                reason="large_bodies",
            )
        self.free -= 1

    def give(self) -> None:
        self.free += 1


async def read_body(
    receive: Receive, limit: int, upload: _Upload | None, large: LargeBodies, declared: int | None = None
) -> tuple[bytes, str]:
    """The body (empty for an upload, whose chunks go to ``upload``) and its hex SHA-256; 413 past ``limit``.

    A slot of ``large`` is held while a body over its threshold (declared, or streamed so far) is read:
    503 when none is free."""
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    size = 0
    holding = declared is not None and declared > large.threshold
    if holding:
        large.take()
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                raise ApiError("VALIDATION_ERROR", "the client disconnected before sending the body")
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            if size > large.threshold and not holding:
                large.take()
                holding = True
            if chunk:
                digest.update(chunk)
                if upload is None:
                    chunks.append(chunk)
                else:
                    upload.feed(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), digest.hexdigest()
    finally:
        if holding:
            large.give()


async def read_capped(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The body of an unauthenticated request (``/oauth/token``), refused with 413 past ``limit`` bytes:
    a declared ``Content-Length`` over it before anything is read, else as soon as the stream passes it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the handler, then defers to the server."""
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=False)
        return await receive()

    return replay


class SignedBody(ASGIMiddleware):
    """Reads the body of an authenticated request and verifies its signature (module docstring)."""

    scopes = (ScopeType.HTTP,)

    def __init__(
        self,
        authenticator: Callable[[], PartnerAuthenticator],
        limits: Callable[[], RateLimits],
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        large_bodies: LargeBodies,
    ) -> None:
        self._large = large_bodies
        self._authenticator = authenticator
        self._limits = limits
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        is_upload = bool(scope["route_handler"].opt.get("upload"))
        limit = self.max_upload_bytes if is_upload else self.max_body_bytes
        declared_text = header(scope, b"content-length") or ""
        declared = int(declared_text) if declared_text.isdigit() else None
        if declared is not None and declared > limit:
            raise too_large(limit)
        upload = _Upload(header(scope, b"content-type")) if is_upload else None
        body, body_sha256 = await read_body(receive, limit, upload, self._large, declared)
        method = cast("HTTPScope", scope)["method"]
        try:
            scope["auth"] = self._authenticator().check_signature(
                scope["auth"], method, raw_path(scope), query_string(scope), body_sha256
            )
        except AuthenticationError as error:
            raise await run_blocking(self._limits().refusal, error, client_address(scope)) from None
        state = scope["state"]
        state[BODY_SHA256] = body_sha256
        if upload is not None:
            state[UPLOAD] = upload.finish()
        else:
            kept_body(state, body)
        await next_app(scope, _replaying(body, receive), send)


def body_sha256_of(scope: Scope) -> str:
    """The hex SHA-256 of the request's body, as :class:`SignedBody` read it."""
    digest: str = scope["state"][BODY_SHA256]
    return digest


def deferred_error(scope: Scope) -> ApiError | None:
    """The error of a malformed upload, kept until the caller is admitted; None otherwise."""
    upload = scope["state"].get(UPLOAD)
    return upload if isinstance(upload, ApiError) else None


def upload_of(scope: Scope) -> Upload:
    """The upload of an ``opt["upload"]`` handler's request (its error, raised, if it was malformed)."""
    upload = scope["state"].get(UPLOAD)
    if isinstance(upload, Upload):
        return upload
    raise upload if isinstance(upload, ApiError) else ApiError("VALIDATION_ERROR", "unreadable upload")
