"""Authentication, step 1 of the pipeline: the headers of a ``/api/v1`` request, before its body is read.

:class:`PartnerAuthentication` is Litestar authentication middleware
(:class:`~litestar.middleware.authentication.AbstractAuthenticationMiddleware`). It runs the checks of
:class:`~api.security.verifier.RequestAuthenticator` that need only headers (the bearer token, the API
key of the token's partner, the form of ``X-Request-ID``/``X-Timestamp``/``X-Signature``, the clock
skew); the body has not been read yet, so a caller without credentials cannot make the server read
(or hold) a large one. On success ``request.user`` is the verified
:class:`~api.security.tokens.AccessToken` (the partner and its scopes) and ``request.auth`` the
:class:`~api.security.verifier.SignedHeaders` whose signature the next step (:mod:`.body`) checks
once the body has streamed in; that step replaces ``request.auth`` with the
:class:`~api.security.verifier.AuthenticatedRequest`. Nothing after it runs before the signature is verified.

Once the token names the partner, a partner with an IP allowlist is refused from any other client
address (403 ``IP_NOT_ALLOWED``, before the body is read; the address is the one
:mod:`api.http.proxies` resolves).

A security header sent twice is refused first (400 ``REPEATED_HEADER``): which of the two was meant
is ambiguous, so none is picked (:func:`api.http.context.repeated_header`).

Where the checks run: on the event loop when they read nothing (a token this process verified before,
its partner in the directory's one-second cache: a partner's steady traffic), in a worker thread
otherwise (the first request of a token, or a partner to read), so a request costs no more thread
hand-offs than before the body was read separately.

A failure is counted by code and reason and charged to the client address's anonymous rate limit
(:meth:`.limits.RateLimits.refusal`), so the 401 carries rate-limit headers (or becomes a 429).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import jwt
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Scope

from api.http.context import client_address, repeated_header
from api.http.errors import ApiError
from api.http.pipeline.limits import RateLimits
from api.http.threads import run_blocking
from api.security import AuthenticationError
from api.security.credentials import PartnerDirectory, api_key_record
from api.security.tokens import TokenValidator
from api.security.verifier import (
    ApiKeyLookup,
    ApiKeyRecord,
    AuthenticatedRequest,
    RequestAuthenticator,
    SignedHeaders,
)
from ledger_core.partners.ports import ReplayCache


@dataclass(frozen=True)
class PartnerAuthenticator:
    """The verifier bound to this server's token keys, partner directory and deployment secret."""

    validator: TokenValidator
    directory: PartnerDirectory
    deployment_secret: bytes = field(repr=False)
    replay: ReplayCache
    max_skew_s: int
    clock: Callable[[], datetime]

    def check_headers(self, headers: Mapping[str, str], lookup: ApiKeyLookup | None = None) -> SignedHeaders:
        """Checks 1 to 4 of the verifier. Blocking (the partner's keys may be read), unless ``lookup`` comes
        from :meth:`cached_lookup`: then it reads nothing and costs a few microseconds of CPU."""
        if lookup is None:
            lookup = self._lookup(_subject_hint(self.validator, headers.get("authorization")))
        return self._authenticator(lookup).check_headers(headers, self.clock())

    def cached_lookup(self, headers: Mapping[str, str]) -> ApiKeyLookup | None:
        """A key lookup that reads nothing: when this bearer token was verified before and its partner is in
        the directory's cache (a partner's steady traffic); None otherwise."""
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        subject = self.validator.verified_subject(token.strip()) if scheme.lower() == "bearer" else None
        if subject is None:
            return None
        known, partner = self.directory.cached(subject)
        if not known:
            return None

        def lookup(key_id: str) -> ApiKeyRecord | None:
            return api_key_record(subject, partner, key_id)

        return lookup

    def check_signature(
        self, signed: SignedHeaders, method: str, raw_path: str, query: str, body_sha256: str
    ) -> AuthenticatedRequest:
        """Check 5, the signature over the request and the SHA-256 of its body (cheap: one HMAC)."""
        return self._authenticator(self._lookup(None)).check_signature(signed, method, raw_path, query, body_sha256)

    @property
    def replay_ttl_s(self) -> int:
        return self._authenticator(self._lookup(None)).replay_ttl_s

    def _lookup(self, hint: str | None) -> ApiKeyLookup:
        """A key lookup reading the keys of the partner the bearer token names (``hint``)."""

        def lookup(key_id: str) -> ApiKeyRecord | None:
            return None if hint is None else self.directory.api_key(hint, key_id)

        return lookup

    def _authenticator(self, lookup: ApiKeyLookup) -> RequestAuthenticator:
        return RequestAuthenticator(
            self.validator, lookup, self.deployment_secret, self.replay, max_skew_s=self.max_skew_s
        )


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


def first_headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, the first value of each (Latin-1)."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1"))
    return headers


class PartnerAuthentication(AbstractAuthenticationMiddleware):
    """Litestar authentication middleware for ``/api/v1``: every method, HTTP only (module docstring)."""

    def __init__(
        self, app: ASGIApp, authenticator: Callable[[], PartnerAuthenticator], limits: Callable[[], RateLimits]
    ) -> None:
        super().__init__(app, exclude_http_methods=[], scopes={ScopeType.HTTP})
        self._authenticator = authenticator
        self._limits = limits

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        repeated = repeated_header(connection.scope)
        if repeated is not None:
            raise ApiError("REPEATED_HEADER", f"the {repeated} header is sent more than once", header=repeated)
        authenticator, limits = self._authenticator(), self._limits()
        headers, client = first_headers(connection.scope), client_address(connection.scope)
        lookup = authenticator.cached_lookup(headers)
        if lookup is None:  # a token or a partner not seen lately: the checks may read, in a worker thread
            signed = await run_blocking(_check_headers, authenticator, limits, headers, client)
        else:
            try:
                signed = authenticator.check_headers(headers, lookup)
            except AuthenticationError as error:
                raise await run_blocking(limits.refusal, error, client) from None
        await _require_allowed_address(authenticator.directory, signed.partner_id, client)
        return AuthenticationResult(user=signed.token, auth=signed)


async def _require_allowed_address(directory: PartnerDirectory, partner_id: str, client: str) -> None:
    """403 ``IP_NOT_ALLOWED`` when the partner has an IP allowlist and ``client`` is outside it (seed 000
    section 6.1). The partner was just read to check its key, so this reads from the directory's cache."""
    known, partner = directory.cached(partner_id)
    if not known:
        partner = await run_blocking(directory.partner, partner_id)
    if partner is not None and not partner.allows_address(client):
        raise ApiError("IP_NOT_ALLOWED", "requests of this partner are not accepted from this address", address=client)


def _check_headers(
    authenticator: PartnerAuthenticator, limits: RateLimits, headers: Mapping[str, str], client: str
) -> SignedHeaders:
    """The headers checked, or the refusal (charged to the client address) raised: one worker-thread hop."""
    try:
        return authenticator.check_headers(headers)
    except AuthenticationError as error:
        raise limits.refusal(error, client) from None
