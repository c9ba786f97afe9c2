"""The transport of the Python SDK (:mod:`api.client.ledger_client` composes the endpoint groups over it).

The client fetches an access token (``POST /oauth/token``, client credentials) and refreshes it a minute
before it expires or after a 401 ``AUTH_INVALID_TOKEN``; signs every ``/api/v1`` request with the five
headers (:mod:`.signing`); sends an ``Idempotency-Key`` with every POST (one per call, kept
across retries); and retries 429, 5xx, 409 ``IDEMPOTENCY_REQUEST_IN_PROGRESS`` and connection errors with
exponential backoff and jitter, honouring ``Retry-After``. Every retry is signed afresh (a new
``X-Request-ID``: the old one would be a replay). Errors raise :class:`LedgerApiError` carrying the
envelope's ``code``, ``message``, ``details`` and ``requestId``. Given ``vkey`` (pinned out of band) and
``state`` (a file), every checkpoint the client receives is checked against the last one it verified
(:mod:`proofs.client_state`): a rollback or a split view raises ``StateMismatch``.
"""

from __future__ import annotations

import base64
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlencode

import httpx
import msgspec

from proofs.checkpoint import Checkpoint, verify_checkpoint
from proofs.client_state import CheckpointState, Comparison

from .schemas import common as schemas
from .signing import sign

T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TOKEN_MARGIN_S = 60


class LedgerApiError(Exception):
    """An error response: the seed's envelope (``code``, ``message``, ``details``, ``request_id``).

    ``str()`` is ``"{status} {code}: {message} (request_id {request_id})"``: quote it to support, who
    find the request in the server's logs by that id (the suffix is left out when the answer had none).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any],
        request_id: str,
        headers: Mapping[str, str],
    ) -> None:
        suffix = f" (request_id {request_id})" if request_id else ""
        super().__init__(f"{status} {code}: {message}{suffix}")
        self.status, self.code, self.message = status, code, message
        self.details, self.request_id, self.headers = dict(details), request_id, dict(headers)

    @classmethod
    def from_response(cls, response: httpx.Response) -> LedgerApiError:
        try:
            error = response.json()["error"]
            return cls(
                response.status_code,
                str(error["code"]),
                str(error["message"]),
                error.get("details") or {},
                str(error.get("requestId", "")),
                response.headers,
            )
        except (ValueError, KeyError, TypeError):
            return cls(response.status_code, "UNKNOWN", response.text[:200], {}, "", response.headers)


def checkpoint_head(note: str, vkey: str) -> Checkpoint:
    """The body of a checkpoint note, once its signature verified against ``vkey`` (raises ``ProofError``)."""
    return verify_checkpoint(note, vkey)


def rfc3339(moment: datetime) -> str:
    """``X-Timestamp`` text: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ClientCore:
    """Transport of the SDK: tokens, the five signed headers, idempotency keys, retries and decoding.

    Endpoint groups are mixins over this class (:mod:`api.client.ledger_client` composes them into ``LedgerClient``);
    each calls :meth:`_json` or :meth:`send`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        api_key: str,
        api_secret: str,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        http: httpx.Client | None = None,
        vkey: str | None = None,
        state: CheckpointState | Path | None = None,
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self.vkey = vkey
        self.state = CheckpointState(state) if isinstance(state, Path) else state
        if self.state is not None and vkey is None:
            raise ValueError("a checkpoint state needs the vkey the checkpoints are verified with")
        self.client_id, self.api_key = client_id, api_key
        self._client_secret, self._api_secret = client_secret, api_secret
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self.last_response: httpx.Response | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------------
    def token(self, *, refresh: bool = False) -> str:
        """A valid access token, fetched or refreshed when needed."""
        if refresh or self._token is None or time.monotonic() >= self._token_expires - TOKEN_MARGIN_S:
            answer = self.fetch_token()
            self._token, self._token_expires = answer.access_token, time.monotonic() + answer.expires_in
        return self._token

    def fetch_token(self, scope: str | None = None) -> schemas.TokenResponse:
        """``POST /oauth/token`` with HTTP Basic client authentication (retried like any call)."""
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        basic = base64.b64encode(
            f"{quote(self.client_id, safe='')}:{quote(self._client_secret, safe='')}".encode()
        ).decode()
        response = self._with_retries(
            lambda: self.http.post("/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"})
        )
        return self._decode(response, schemas.TokenResponse)

    def signed_headers(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        *,
        timestamp: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, str]:
        """The five zero-trust headers for one request (exposed for tests and other HTTP stacks)."""
        stamp = timestamp or rfc3339(self.clock())
        rid = request_id or str(uuid.uuid4())
        return {
            "Authorization": f"Bearer {self.token()}",
            "X-API-Key": self.api_key,
            "X-Request-ID": rid,
            "X-Timestamp": stamp,
            "X-Signature": sign(self._api_secret, method, path, query, stamp, rid, body),
        }

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """A signed request with retries; raises :class:`LedgerApiError` for an error answer."""
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None}, quote_via=quote)
        key = idempotency_key if idempotency_key is not None else (str(uuid.uuid4()) if method == "POST" else None)
        refreshed = False

        def attempt() -> httpx.Response:
            signed = self.signed_headers(method, path, query, body)
            extra = {**(headers or {}), **({"Idempotency-Key": key} if key else {})}
            url = f"{path}?{query}" if query else path
            return self.http.request(method, url, content=body, headers={**signed, **extra})

        while True:
            response = self._with_retries(attempt, raise_errors=False)
            if response.status_code == 401 and not refreshed and _code(response) == "AUTH_INVALID_TOKEN":
                refreshed = True
                self.token(refresh=True)
                continue
            if response.status_code >= 400:
                raise LedgerApiError.from_response(response)
            return response

    def _with_retries(self, attempt: Callable[[], httpx.Response], *, raise_errors: bool = True) -> httpx.Response:
        for retry in range(self.max_retries + 1):
            try:
                response = attempt()
            except httpx.TransportError:
                if retry == self.max_retries:
                    raise
                time.sleep(self._delay(retry, None))
                continue
            self.last_response = response
            retryable = response.status_code in RETRY_STATUSES or (
                response.status_code == 409 and _code(response) == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
            )
            if not retryable or retry == self.max_retries:
                break
            time.sleep(self._delay(retry, response.headers.get("Retry-After")))
        if raise_errors and response.status_code >= 400:
            raise LedgerApiError.from_response(response)
        return response

    def _delay(self, retry: int, retry_after: str | None) -> float:
        """Exponential backoff with full jitter, never shorter than ``Retry-After``."""
        delay = random.uniform(0, min(self.max_backoff, self.backoff * 2**retry))  # noqa: S311 - jitter, not crypto
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), self.max_backoff))
        return delay

    @staticmethod
    def _decode(response: httpx.Response, kind: type[T]) -> T:
        return msgspec.json.decode(response.content, type=kind)

    def _json(
        self,
        method: str,
        path: str,
        kind: type[T],
        *,
        body: Any = None,
        extra_headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> T:
        content = b"" if body is None else msgspec.json.encode(body)
        headers = {"Content-Type": "application/json"} if body is not None else None
        if extra_headers:
            headers = {**(headers or {}), **extra_headers}
        return self._decode(self.send(method, path, body=content, headers=headers, **kwargs), kind)

    # -- the remembered checkpoint ---------------------------------------------------------------------
    def _observe(self, note: str | None, *, latest: bool = False) -> Comparison | None:
        """Check a checkpoint the server sent against the remembered one (when the client was given a
        ``state`` and the pinned ``vkey``): its signature must verify, and a consistency proof (fetched
        from the server) must link it to the remembered checkpoint; the state moves forward when it is
        newer. Raises :class:`proofs.client_state.StateMismatch` on a rollback or a split view."""
        if self.state is None or self.vkey is None or note is None:
            return None
        head = checkpoint_head(note, self.vkey)
        sizes = self.state.needed(head)
        path = None
        if sizes is not None:
            answer = self._json(
                "GET",
                "/api/v1/audit/consistency",
                schemas.ConsistencyResponse,
                params={"from": sizes[0], "to": sizes[1]},
            )
            path = [bytes.fromhex(node) for node in answer.consistency_path]
        return self.state.observe(head, note, lambda _old, _new: path, latest=latest)


def _code(response: httpx.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code)
