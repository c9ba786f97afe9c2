"""``Idempotency-Key`` for POSTs (IETF draft), the last layer before a handler.

For a POST with the header, :meth:`Idempotency.begin` claims the key for the partner with the request's
fingerprint (method, canonical path and query, SHA-256 of the body): a stored response for the same
request is answered again with ``Idempotent-Replayed: true``; the same key with another request is 422
``IDEMPOTENCY_KEY_REUSED``; a twin while the first is still running is 409
``IDEMPOTENCY_REQUEST_IN_PROGRESS`` with ``Retry-After: 1``; a malformed key is 400. Otherwise the handler
runs and :class:`IdempotencyMiddleware` stores its response (status, ``Content-Type``, ``Location`` and
body) for replay, or releases the key after a 5xx or an exception so the client may retry.

One Redis round trip: the claim is TAKEN earlier, by :class:`~.limits.RateLimitMiddleware` in the same
script as the replay check and the rate limit (:class:`adapters.request_gate.RequestGate`), but only
for a request that will reach the hook (a POST with a well-formed key whose token has the handler's
scope: :meth:`Idempotency.early_claim`); :meth:`Idempotency.begin` then uses that outcome instead of
calling the store, after the content checks, so every answer and its order are as before. A claim taken
early that nothing used (the content check refused the request) is released before the response
starts (:meth:`Idempotency.release_unused`), as if it had never been taken.

Why two Litestar pieces and not one middleware: the key may be claimed only once the request is
authorized (a token without the handler's scope gets 403 and claims nothing, leaves nothing to replay)
and before the handler runs. Litestar runs guards after every middleware, inside the route, so the
claim is taken in the router's ``before_request`` hook (:mod:`.admission`), which runs after the guards
and before the body is parsed, and which may answer the stored response at once. Storing a response
needs its bytes as they are sent, which only a middleware sees: :class:`IdempotencyMiddleware` wraps
``send`` and settles the claim the hook left in the request's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from litestar import Request, Response
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from adapters.idempotency import (
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyMismatch,
    IdempotencyOutcome,
    IdempotencyStore,
    InFlight,
    Mismatch,
    New,
    Replay,
    StoredResponse,
    parse_idempotency_key,
)
from adapters.request_gate import IdempotencyClaim
from api.client.signing import fingerprint_of_digest
from api.http.context import query_string, raw_path
from api.http.errors import as_api_error
from api.http.pipeline.body import body_sha256_of
from api.http.pipeline.guards import SCOPE_OPTION
from api.http.threads import run_blocking
from api.security.tokens import AccessToken

CLAIM = "ledger.idempotency"
EARLY_CLAIM = "ledger.idempotency.early"
REPLAYED_HEADER = "Idempotent-Replayed"
_STORED_HEADERS = frozenset({"content-type", "location", "link", "preference-applied"})


@dataclass(frozen=True, slots=True)
class Claim:
    """A key this request holds: released or completed when its response is known."""

    partner_id: str
    key: str
    lease: str


@dataclass(frozen=True, slots=True)
class EarlyClaim:
    """The outcome of a claim taken with the rate limit, waiting for :meth:`Idempotency.begin`."""

    partner_id: str
    key: str
    outcome: IdempotencyOutcome


@dataclass
class _Captured:
    status: int = 500
    headers: tuple[tuple[str, str], ...] = ()
    body: bytearray = field(default_factory=bytearray)

    def take(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            pairs = ((bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in message.get("headers", []))
            self.headers = tuple((k, v) for k, v in pairs if k.lower() in _STORED_HEADERS)
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class Idempotency:
    """Claims, settles and releases keys in the runtime's :class:`IdempotencyStore`."""

    def __init__(self, store: Callable[[], IdempotencyStore]) -> None:
        self._store = store

    async def begin(self, request: Request[Any, Any, Any]) -> Response[bytes] | None:
        """Claim the request's key (see the module docstring): the stored response to replay, or None."""
        if request.method != "POST":
            return None
        key = parse_idempotency_key(request.headers.get("idempotency-key"))  # IdempotencyKeyInvalid: 400
        if key is None:
            return None
        scope = request.scope
        fingerprint = fingerprint_of_digest(request.method, raw_path(scope), query_string(scope), body_sha256_of(scope))
        partner_id = request.auth.partner_id
        early: EarlyClaim | None = scope["state"].get(EARLY_CLAIM)
        if early is not None and (early.partner_id, early.key) == (partner_id, key):
            outcome = scope["state"].pop(EARLY_CLAIM).outcome
        else:  # none taken early (any other would be released by RateLimitMiddleware)
            outcome = await run_blocking(self._store().begin, partner_id, key, fingerprint)
        if isinstance(outcome, Mismatch):
            raise as_api_error(IdempotencyKeyMismatch("this Idempotency-Key was used with a different request"))
        if isinstance(outcome, InFlight):
            in_flight = IdempotencyKeyInFlight("a request with this Idempotency-Key is in progress")
            raise as_api_error(in_flight, {"Retry-After": "1"})
        if isinstance(outcome, Replay):
            return replay_response(outcome.response)
        if isinstance(outcome, New):
            scope["state"][CLAIM] = Claim(partner_id, key, outcome.lease)
        return None

    def early_claim(self, scope: Scope) -> IdempotencyClaim | None:
        """The claim :meth:`begin` would ask for, to take with the rate limit; None when it would ask for none
        or never run: not a POST, no key or a malformed one (``begin`` answers 400), or a token without the
        handler's scope (the guard answers 403 and nothing may be claimed)."""
        if cast("HTTPScope", scope)["method"] != "POST":
            return None
        try:
            key = parse_idempotency_key(Headers.from_scope(scope).get("idempotency-key"))
        except IdempotencyKeyInvalid:
            return None
        handler = scope.get("route_handler")
        needed = None if handler is None else handler.opt.get(SCOPE_OPTION)
        token = scope.get("user")
        if key is None or (needed is not None and not (isinstance(token, AccessToken) and token.has_scope(needed))):
            return None
        fingerprint = fingerprint_of_digest("POST", raw_path(scope), query_string(scope), body_sha256_of(scope))
        return IdempotencyClaim(key, fingerprint)

    @staticmethod
    def hold(scope: Scope, partner_id: str, key: str, outcome: IdempotencyOutcome) -> None:
        """Keep the outcome of a claim taken early for :meth:`begin`."""
        scope["state"][EARLY_CLAIM] = EarlyClaim(partner_id, key, outcome)

    async def release_unused(self, scope: Scope) -> None:
        """Release a key claimed early that :meth:`begin` never took over (the request was refused first)."""
        early: EarlyClaim | None = scope["state"].pop(EARLY_CLAIM, None)
        if early is not None and isinstance(early.outcome, New):
            await run_blocking(self._store().abandon, early.partner_id, early.key, early.outcome.lease)

    async def abandon(self, scope: Scope) -> None:
        """Release the key this request holds, if any (the client may retry)."""
        claim: Claim | None = scope["state"].pop(CLAIM, None)
        if claim is not None:
            await run_blocking(self._store().abandon, claim.partner_id, claim.key, claim.lease)

    def settle(self, claim: Claim, captured: _Captured) -> None:
        """Store the response for replay, or release the key after a server error (blocking)."""
        store = self._store()
        if captured.status >= 500:
            store.abandon(claim.partner_id, claim.key, claim.lease)
            return
        body = bytes(captured.body)
        store.complete(claim.partner_id, claim.key, claim.lease, captured.status, captured.headers, body)


def replay_response(stored: StoredResponse) -> Response[bytes]:
    """The stored response again, marked ``Idempotent-Replayed: true``."""
    headers = [*stored.headers, (REPLAYED_HEADER.lower(), "true")]
    return Response(stored.body, status_code=stored.status, headers=dict(headers))


class IdempotencyMiddleware(ASGIMiddleware):
    """Stores the response of a request that claimed an ``Idempotency-Key`` (module docstring)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, idempotency: Idempotency) -> None:
        self._idempotency = idempotency

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if cast("HTTPScope", scope)["method"] != "POST":
            await next_app(scope, receive, send)
            return
        state = scope["state"]
        captured = _Captured()

        async def capture(message: Message) -> None:
            if CLAIM in state:
                captured.take(message)
            await send(message)

        try:
            await next_app(scope, receive, capture)
        except BaseException:
            await self._idempotency.abandon(scope)
            raise
        claim: Claim | None = state.pop(CLAIM, None)
        if claim is not None:
            await run_blocking(self._idempotency.settle, claim, captured)
