"""Rate limits and replay protection, step 3 of the pipeline (after the signature is verified).

:class:`RateLimits` applies the partner's policy (its tier from the Partner aggregate, or the settings'
``partner_policies`` override) through :class:`~ledger_core.partners.ports.RateLimiter`, and writes the
authenticator's check 6 (the request id is new) in the same step, and for a POST with an
``Idempotency-Key`` the claim of the key (:meth:`.idempotency.Idempotency.early_claim`): one Redis round
trip when the stores are on Redis (:class:`adapters.request_gate.RequestGate`). The rate-limit headers (IETF
``RateLimit``/``RateLimit-Policy`` and ``X-RateLimit-*``) go on every response; a refusal is 429 with
``Retry-After`` (``QUOTA_EXCEEDED`` for the daily quota).

Authentication failures (a bad header, a bad signature, a replayed id) are charged to the client
address's ``anonymous`` policy instead (:meth:`RateLimits.refusal`), so they carry rate-limit headers too
and a flood of them ends in 429. Any other error answered under ``/api/`` or ``/oauth/`` before a
policy was counted (a body over its limit, a repeated header, a path no route matches) gets them the
same way from :class:`ErrorRateLimitHeaders`, a ``before_send`` hook: every error response carries
them, as docs/authentication.md section 4 promises.

:class:`RateLimitMiddleware` is the Litestar middleware; it runs the blocking part (Redis, the partner
read) in one worker thread and adds the headers to whatever the layers inside it answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapters.idempotency import IdempotencyOutcome
from adapters.ratelimit import RatePolicy, rate_limit_headers
from adapters.request_gate import IdempotencyClaim, RequestGate
from api.http.context import client_address
from api.http.errors import ApiError, as_api_error
from api.http.observability import Metrics
from api.http.pipeline.key_age import key_expiry_headers
from api.http.proxies import TrustedProxies, resolve_client
from api.http.threads import run_blocking
from api.security import AuthenticationError
from api.security.credentials import PartnerDirectory
from api.security.verifier import AuthenticatedRequest, replayed
from api.settings import ANONYMOUS_TIER, Settings
from ledger_core.partners.ports import RateLimitDecision, RateLimiter, ReplayCache

if TYPE_CHECKING:  # the idempotency step imports the body step, which imports this one
    from api.http.pipeline.idempotency import Idempotency

DEFAULT_TIER = "sandbox"
"""The tier of a partner the directory does not know (it was just authenticated, so this is a race)."""


class LimitExceeded(ApiError):
    """429 ``RATE_LIMIT_EXCEEDED`` or ``QUOTA_EXCEEDED``, carrying the rate-limit headers and ``Retry-After``."""


@dataclass(frozen=True)
class RateLimits:
    """Counts requests against their policy; built once per process with the runtime's stores."""

    settings: Settings
    limiter: RateLimiter
    replay: ReplayCache
    directory: PartnerDirectory
    metrics: Metrics
    replay_ttl_s: int
    """How long a request id is remembered (the authenticator's window: twice the clock skew)."""
    gate: RequestGate
    """Replay, limit and idempotency claim over the same stores, in one round trip on Redis."""

    def policy_for(self, tier: str) -> RatePolicy:
        return RatePolicy.from_limits(tier, self.settings.http.limits_for(tier))

    def limit(self, key: str, tier: str) -> dict[str, str]:
        """Count one request of ``key``: the rate-limit headers, or :class:`LimitExceeded` carrying them."""
        policy = self.policy_for(tier)
        return self._headers(self.limiter.check(key, policy), policy, tier)

    def admit(
        self, auth: AuthenticatedRequest, client: str, claim: IdempotencyClaim | None = None
    ) -> tuple[dict[str, str], IdempotencyOutcome | None]:
        """Remember the request id, count the request against the partner's policy and, if it is admitted
        and ``claim`` is given, claim its idempotency key (blocking).

        The headers for the response (with the key's ``X-API-Key-Expires``, :mod:`.key_age`) and the claim's
        outcome; :class:`LimitExceeded`, or the 401 of :meth:`refusal` for a replayed request id (then
        nothing is counted against the partner, and nothing is claimed)."""
        partner = self.directory.partner(auth.partner_id)
        tier = self.settings.http.partner_policies.get(auth.partner_id) or (
            partner.tier.value if partner else DEFAULT_TIER
        )
        policy = self.policy_for(tier)
        request_id = auth.request_id.lower()
        admitted = self.gate.admit(auth.partner_id, request_id, self.replay_ttl_s, policy, claim)
        if admitted.decision is None:
            raise self.refusal(replayed(auth.request_id), client)
        headers = self._headers(admitted.decision, policy, tier)
        partners = self.directory.ledger.partners
        return headers | key_expiry_headers(partners, partner, auth.key_id, self.directory.clock()), admitted.claim

    def refusal(self, error: AuthenticationError, client: str) -> ApiError:
        """The response to an authentication failure (blocking): counted by code and reason, charged to
        the client address's anonymous policy; the 401 with that policy's headers, or its 429."""
        self.metrics.auth_failures.labels(error.code, error.reason).inc()
        try:
            headers = self.limit(f"ip:{client}", ANONYMOUS_TIER)
        except LimitExceeded as exceeded:
            return exceeded
        return as_api_error(error, headers)

    def _headers(self, decision: RateLimitDecision, policy: RatePolicy, tier: str) -> dict[str, str]:
        headers = rate_limit_headers(decision, policy)
        if not decision.allowed:
            self.metrics.rate_limited.labels(tier, decision.policy_name).inc()
            code = "QUOTA_EXCEEDED" if decision.policy_name == "day" else "RATE_LIMIT_EXCEEDED"
            retry = int(headers.get("Retry-After", "1"))
            raise LimitExceeded(
                code,
                "rate limit exceeded",
                headers=headers,
                retry_after=retry,
                limit=decision.limit,
                policy=decision.policy_name,
            )
        return headers


_LIMITED_PREFIXES = ("/api/", "/oauth/")
_LIMIT_HEADER = b"x-ratelimit-limit"


class ErrorRateLimitHeaders:
    """``before_send`` hook: an error response under ``/api/`` or ``/oauth/`` that carries no rate-limit
    headers is charged to the client address's ``anonymous`` policy and gets that policy's headers
    (its status is kept: the request is refused already)."""

    def __init__(self, limits: Callable[[], RateLimits], proxies: TrustedProxies) -> None:
        self._limits = limits
        self._proxies = proxies

    async def __call__(self, message: Message, scope: Scope) -> None:
        if scope["type"] != ScopeType.HTTP or message["type"] != "http.response.start" or message["status"] < 400:
            return
        if not str(scope.get("path", "")).startswith(_LIMITED_PREFIXES):
            return
        headers = list(message.get("headers", ()))
        if any(bytes(name).lower() == _LIMIT_HEADER for name, _ in headers):
            return
        limits, client = self._limits(), resolve_client(scope, self._proxies)
        try:
            extra = await run_blocking(limits.limit, f"ip:{client}", ANONYMOUS_TIER)
        except LimitExceeded as exceeded:
            extra = exceeded.headers
        message["headers"] = [*headers, *_encoded(extra)]


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class RateLimitMiddleware(ASGIMiddleware):
    """Counts an authenticated request (``request.auth``), claims its idempotency key in the same step, and
    puts the rate-limit headers on its response."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, limits: Callable[[], RateLimits], idempotency: Idempotency) -> None:
        self._limits = limits
        self._idempotency = idempotency

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        auth: AuthenticatedRequest = scope["auth"]
        claim = self._idempotency.early_claim(scope)
        headers, outcome = await run_blocking(self._limits().admit, auth, client_address(scope), claim)
        if claim is not None and outcome is not None:
            self._idempotency.hold(scope, auth.partner_id, claim.key, outcome)
        encoded = _encoded(headers)

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *encoded]
                await self._idempotency.release_unused(scope)  # before the client can retry with the key
            await send(message)

        try:
            await next_app(scope, receive, send_with_limits)
        finally:
            await self._idempotency.release_unused(scope)
