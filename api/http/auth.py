"""The gate in front of every ``/api/v1`` handler: authenticate, rate-limit, authorize, idempotency.

:class:`PartnerGate` is route middleware (so it knows the handler's options) and runs, in order:

1. **Body**: read it whole (at most ``max_body_bytes``; uploads up to ``max_upload_bytes`` and hashed
   as they stream in, :mod:`api.http.uploads`), since the signature covers SHA-256 of the raw body.
2. **Authenticate** all five headers (:class:`~api.security.verifier.RequestAuthenticator`: token, API
   key of the token's partner, signature, clock skew, replay). A failure is counted by reason and
   charged to the client address's anonymous rate limit, so every response carries rate-limit headers.
3. **Rate limit** the partner (:class:`~ledger_core.partners.ports.RateLimiter`, tier from the Partner aggregate
   or the settings' overrides); the headers go on every response, a refusal is 429 with ``Retry-After``.
4. **Authorize**: the token must hold the handler's ``opt["scope"]`` (403 otherwise).
5. **Idempotency** for POSTs with ``Idempotency-Key``: replay the stored response (and
   ``Idempotent-Replayed: true``), 422 for the same key with another request, 409 while the first is in
   flight; otherwise run the handler and store its response (unless it is a 5xx).

The blocking parts (token and signature checks, Redis, partner reads) run in one worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt

from adapters.idempotency import (
    IdempotencyStore,
    InFlight,
    Mismatch,
    New,
    Replay,
    StoredResponse,
    parse_idempotency_key,
)
from adapters.ratelimit import RatePolicy, rate_limit_headers
from adapters.request_gate import remember_and_check
from api.client.signing import request_fingerprint
from api.http.context import request_id_of, set_partner
from api.http.errors import ApiError, render_problem
from api.http.observability import ASGIApp, Message, Metrics, Receive, Scope, Send
from api.http.threads import run_blocking
from api.http.uploads import Digester, Upload, digester_for
from api.security import AuthenticationError
from api.security.credentials import PartnerDirectory
from api.security.tokens import TokenValidator
from api.security.verifier import AuthenticatedRequest, RequestAuthenticator, replayed
from api.settings import ANONYMOUS_TIER, Settings
from ledger_core.engine.errors import InvalidCommand, LedgerError
from ledger_core.partners.ports import RateLimitDecision, RateLimiter, ReplayCache

AUTH = "ledger.auth"
UPLOAD = "ledger.upload"
_STORED_HEADERS = frozenset({"content-type", "location"})


@dataclass
class Security:
    """Everything the gate needs, built once per process in the app's lifespan."""

    settings: Settings
    validator: TokenValidator
    deployment_secret: bytes = field(repr=False)
    replay: ReplayCache
    limiter: RateLimiter
    idempotency: IdempotencyStore
    directory: PartnerDirectory
    metrics: Metrics
    clock: Callable[[], datetime]

    def authenticate(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
        *,
        remember: bool = True,
    ) -> AuthenticatedRequest:
        """Run the five-header check; the token's (verified) partner is the only one whose keys count.

        ``remember=False`` leaves the replay check to :meth:`remember_and_limit`."""
        hint = _subject_hint(self.validator, headers.get("authorization"))

        def lookup(key_id: str) -> Any:
            return None if hint is None else self.directory.api_key(hint, key_id)

        authenticator = self._authenticator(lookup)
        return authenticator.authenticate(method, raw_path, query, headers, body, now, remember=remember)

    def _authenticator(self, lookup: Callable[[str], Any]) -> RequestAuthenticator:
        return RequestAuthenticator(
            self.validator, lookup, self.deployment_secret, self.replay, max_skew_s=self.settings.clock_skew_seconds
        )

    def policy_for(self, tier: str) -> RatePolicy:
        limits = self.settings.limits_for(tier)
        return RatePolicy(tier, limits.requests_per_minute, limits.burst, limits.daily_quota)

    def limit(self, key: str, tier: str) -> dict[str, str]:
        """Count one request of ``key``; the rate-limit headers, or :class:`Refused` (429) with them."""
        policy = self.policy_for(tier)
        return self._limit_headers(self.limiter.check(key, policy), policy, tier)

    def remember_and_limit(self, auth: AuthenticatedRequest, tier: str) -> dict[str, str] | None:
        """Check 6 of the authenticator (the request id is new) then :meth:`limit` for the partner, in one
        Redis round trip when both stores are on Redis; None (nothing counted) for a replayed id."""
        policy = self.policy_for(tier)
        ttl = self._authenticator(lambda key_id: None).replay_ttl_s
        request_id = auth.request_id.lower()
        decision = remember_and_check(self.replay, self.limiter, auth.partner_id, request_id, ttl, policy)
        return None if decision is None else self._limit_headers(decision, policy, tier)

    def _limit_headers(self, decision: RateLimitDecision, policy: RatePolicy, tier: str) -> dict[str, str]:
        headers = rate_limit_headers(decision, policy)
        if not decision.allowed:
            self.metrics.rate_limited.labels(tier, decision.policy_name).inc()
            code = "QUOTA_EXCEEDED" if decision.policy_name == "day" else "RATE_LIMIT_EXCEEDED"
            retry = int(headers.get("Retry-After", "1"))
            error = ApiError(
                code, "rate limit exceeded", retry_after=retry, limit=decision.limit, policy=decision.policy_name
            )
            raise Refused(error, headers)
        return headers


def _subject_hint(validator: TokenValidator, authorization: str | None) -> str | None:
    """The ``sub`` a bearer token claims: only a hint for the key lookup.

    Read from the validator's cache when this exact token was verified before, else decoded without
    verification. The authenticator verifies the token before it looks the key up, and checks that the
    key belongs to the verified ``sub``; a forged hint can only make the lookup fail.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    known = validator.verified_subject(token.strip())
    if known is not None:
        return known
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) and subject else None


class Refused(Exception):
    """A request refused by the gate: the error and the headers (rate limit) to send with it."""

    def __init__(self, error: BaseException, headers: Mapping[str, str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.headers = dict(headers)


@dataclass
class Admission:
    """A request let through: who, the rate-limit headers, and its idempotency claim or stored replay."""

    auth: AuthenticatedRequest
    headers: dict[str, str]
    idempotency: tuple[str, str] | None = None  # (key, lease)
    replay: StoredResponse | None = None


@dataclass
class RawRequest:
    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes
    client: str
    scope_required: str | None


def admit(security: Security, request: RawRequest, now: datetime) -> Admission:
    """Steps 2 to 5 of the module docstring (blocking; run in a worker thread)."""
    try:
        auth = security.authenticate(
            request.method, request.raw_path, request.query, request.headers, request.body, now, remember=False
        )
    except AuthenticationError as error:
        raise _refused_anonymously(security, request, error) from None
    partner = security.directory.partner(auth.partner_id)
    tier = security.settings.partner_policies.get(auth.partner_id) or (partner.tier.value if partner else "sandbox")
    headers = security.remember_and_limit(auth, tier)
    if headers is None:  # the authenticator's check 6, done together with the rate limit
        raise _refused_anonymously(security, request, replayed(auth.request_id))
    if request.scope_required is not None and not auth.token.has_scope(request.scope_required):
        denied = ApiError(
            "AUTH_INSUFFICIENT_SCOPE", "the access token lacks a required scope", required=request.scope_required
        )
        raise Refused(denied, headers)
    admission = Admission(auth, headers)
    if request.method == "POST":
        _begin_idempotency(security, request, admission)
    return admission


def _refused_anonymously(security: Security, request: RawRequest, error: AuthenticationError) -> Refused:
    """An authentication failure: counted by reason and charged to the client address's anonymous limit."""
    security.metrics.auth_failures.labels(error.code, error.reason).inc()
    return Refused(error, security.limit(f"ip:{request.client}", ANONYMOUS_TIER))


def _begin_idempotency(security: Security, request: RawRequest, admission: Admission) -> None:
    try:
        key = parse_idempotency_key(request.headers.get("idempotency-key"))
    except InvalidCommand as error:
        raise Refused(ApiError("IDEMPOTENCY_KEY_INVALID", error.message), admission.headers) from None
    if key is None:
        return
    fingerprint = request_fingerprint(request.method, request.raw_path, request.query, request.body)
    try:
        outcome = security.idempotency.begin(admission.auth.partner_id, key, fingerprint)
    except LedgerError as error:
        raise Refused(error, admission.headers) from None
    if isinstance(outcome, Mismatch):
        reused = ApiError("IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different request")
        raise Refused(reused, admission.headers)
    if isinstance(outcome, InFlight):
        busy = ApiError("IDEMPOTENCY_REQUEST_IN_PROGRESS", "a request with this Idempotency-Key is in progress")
        raise Refused(busy, {**admission.headers, "Retry-After": "1"})
    if isinstance(outcome, Replay):
        admission.replay = outcome.response
    elif isinstance(outcome, New):
        admission.idempotency = (key, outcome.lease)


def _raw_path(scope: Scope) -> str:
    """The path as sent (ASGI ``raw_path``, without any query string some test servers leave in it)."""
    raw = scope.get("raw_path")
    text = bytes(raw).decode("latin-1") if raw else str(scope["path"])
    return text.split("?", 1)[0]


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1"))
    return headers


async def _send_response(
    send: Send, status: int, headers: Mapping[str, str], body: bytes, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    encoded += [*extra, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int, digester: _Guarded | None) -> bytes:
    """The whole body (at most ``limit`` bytes, else 413), fed to ``digester`` as it streams in."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError("VALIDATION_ERROR", "the client disconnected before sending the body")
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            raise ApiError("PAYLOAD_TOO_LARGE", f"the body exceeds {limit} bytes", limit=limit)
        if chunk:
            chunks.append(chunk)
            if digester is not None:
                digester.feed(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Guarded:
    """Feeds a digester until it fails, keeping the failure for later: the body is still read whole
    (the signature covers it) and the error is reported only once the caller is authenticated."""

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

    def finish(self) -> Upload:
        if self.error is None and self.digester is not None:
            return self.digester.finish()
        raise self.error or ApiError("VALIDATION_ERROR", "unreadable upload")


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the handler, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class PartnerGate:
    """Route middleware for ``/api/v1`` (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = scope["litestar_app"].state.runtime
        security: Security = runtime.security
        try:
            admission, body = await self._admit(scope, receive, security)
        except Refused as refused:
            await self._refuse(scope, send, refused.error, refused.headers)
            return
        except ApiError as error:  # before authentication: the body is too large
            await self._refuse(scope, send, error, {})
            return
        headers = admission.headers
        if admission.replay is not None:
            stored = admission.replay
            extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
            extra.append((b"idempotent-replayed", b"true"))
            await _send_response(send, stored.status, headers, stored.body, extra)
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = int(message["status"])
                captured["headers"] = [
                    (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                    for k, v in message.get("headers", [])
                    if bytes(k).decode("latin-1").lower() in _STORED_HEADERS
                ]
                message = {**message, "headers": [*message.get("headers", []), *encoded]}
            elif message["type"] == "http.response.body" and admission.idempotency is not None:
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, _replaying(body, receive), send_with_headers)
        except BaseException:
            if admission.idempotency is not None:
                await run_blocking(self._abandon, security, admission)
            raise
        if admission.idempotency is not None:
            await run_blocking(self._settle, security, admission, captured)

    async def _admit(self, scope: Scope, receive: Receive, security: Security) -> tuple[Admission, bytes]:
        settings = security.settings
        handler_opt: Mapping[str, Any] = scope["route_handler"].opt
        headers = _headers(scope)
        upload = bool(handler_opt.get("upload"))
        limit = settings.max_upload_bytes if upload else settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError("PAYLOAD_TOO_LARGE", f"the body exceeds {limit} bytes", limit=limit)
        digester = _Guarded(headers.get("content-type")) if upload else None
        body = await _read_body(receive, limit, digester)
        client = scope.get("client") or ("unknown", 0)
        request = RawRequest(
            method=str(scope["method"]),
            raw_path=_raw_path(scope),
            query=bytes(scope.get("query_string", b"")).decode("latin-1"),
            headers=headers,
            body=body,
            client=str(client[0]),
            scope_required=handler_opt.get("scope"),
        )
        admission = await run_blocking(admit, security, request, security.clock())
        set_partner(scope, admission.auth.partner_id)
        scope.setdefault("state", {})[AUTH] = admission.auth
        if digester is not None:
            try:  # a malformed upload is reported only to an authenticated caller
                scope["state"][UPLOAD] = digester.finish()
            except ApiError as error:
                if admission.idempotency is not None:
                    await run_blocking(self._abandon, security, admission)
                raise Refused(error, admission.headers) from None
        return admission, (b"" if upload else body)

    @staticmethod
    def _abandon(security: Security, admission: Admission) -> None:
        if admission.idempotency is not None:
            key, lease = admission.idempotency
            security.idempotency.abandon(admission.auth.partner_id, key, lease)

    @staticmethod
    def _settle(security: Security, admission: Admission, captured: Mapping[str, Any]) -> None:
        """Store the response for replay, or release the key after a server error (the client may retry)."""
        assert admission.idempotency is not None  # only called with a claim; narrows the type
        key, lease = admission.idempotency
        partner_id = admission.auth.partner_id
        if int(captured["status"]) >= 500:
            security.idempotency.abandon(partner_id, key, lease)
            return
        headers = tuple(captured["headers"])
        security.idempotency.complete(partner_id, key, lease, int(captured["status"]), headers, bytes(captured["body"]))

    async def _refuse(self, scope: Scope, send: Send, error: BaseException, headers: Mapping[str, str]) -> None:
        security: Security = scope["litestar_app"].state.runtime.security
        status, problem_headers, body = render_problem(
            error, request_id_of(scope), security.settings.docs_url, str(scope.get("path", ""))
        )
        await _send_response(send, status, {**headers, **problem_headers, "content-type": "application/json"}, body)
