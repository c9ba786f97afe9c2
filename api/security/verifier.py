"""Zero-trust authentication of one ``/api/v1`` request: all five headers, every time (seed 000 §4.2).

Checks, in this order (the first failure wins):

1. ``Authorization: Bearer <jwt>``: a valid access token (:class:`~api.security.tokens.TokenValidator`).
2. ``X-API-Key``: an active, unexpired key of the token's partner (the ``sub`` claim).
3. ``X-Request-ID`` (a UUID), ``X-Timestamp`` (RFC 3339, UTC) and ``X-Signature`` (64 hex) are well formed.
4. ``|now - X-Timestamp| <= 300 s``.
5. ``X-Signature`` equals HMAC-SHA256 under the key's derived secret (constant-time comparison).
6. ``X-Request-ID`` has not been seen for this partner within the window (replay cache).

Checks 1 to 4 need only the headers (:meth:`RequestAuthenticator.check_headers`), so a server runs them
before it reads the body; check 5 covers SHA-256 of the body (:meth:`RequestAuthenticator.check_signature`,
given the digest of the body as it streamed in). The replay cache is written last, only for correctly
signed, fresh requests: nobody without the secret can burn a partner's request ids. Ids are remembered
for twice the skew, which covers every instant at which a request with that timestamp is still accepted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from api.client.signing import verify_signature_of_digest
from api.security import (
    InvalidRequestSignature,
    InvalidToken,
    KeyMismatch,
    KeyTooOld,
    ReplayedRequest,
    RequestExpired,
)
from api.security.secrets import derive_api_secret
from api.security.tokens import AccessToken, TokenValidator
from ledger_core.partners.ports import ReplayCache
from ledger_core.shared.validation import format_timestamp

__all__ = [
    "MAX_SKEW_S",
    "ApiKeyLookup",
    "ApiKeyRecord",
    "AuthenticatedRequest",
    "RequestAuthenticator",
    "SignedHeaders",
    "parse_request_timestamp",
    "replayed",
]

MAX_SKEW_S = 300
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)", re.IGNORECASE)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SIGNED_HEADERS = frozenset({"authorization", "x-api-key", "x-request-id", "x-timestamp", "x-signature"})
_REPEATED = "\x00repeated"  # matches no header pattern, so a repeated header fails as malformed


class ApiKeyRecord(NamedTuple):
    """What the authenticator needs to know about an API key (from the Partner aggregate)."""

    partner_id: str
    active: bool  # False when revoked, or when the partner is suspended
    expires_at: datetime | None  # end of a rotation overlap, if any
    too_old_at: datetime | None = None  # when the key reaches the partner's maximum key age, if one is set


ApiKeyLookup = Callable[[str], ApiKeyRecord | None]
"""``lookup_api_key(key_id)``: the key's record, or None for an unknown key."""


@dataclass(frozen=True, slots=True)
class AuthenticatedRequest:
    """The caller, proven: token claims, the API key used, and the request's id and signed time."""

    token: AccessToken
    key_id: str
    request_id: str
    timestamp: datetime

    @property
    def partner_id(self) -> str:
        return self.token.partner_id


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The five headers of a request that passed checks 1 to 4; the signature (check 5) is still to verify."""

    token: AccessToken
    key_id: str
    request_id: str
    timestamp: datetime
    timestamp_text: str
    signature: str

    @property
    def partner_id(self) -> str:
        return self.token.partner_id


def parse_request_timestamp(value: str) -> datetime:
    """``X-Timestamp`` as an aware UTC datetime; RFC 3339 with ``Z`` (or ``+00:00``), fraction optional."""
    if not _TIMESTAMP.fullmatch(value):
        raise ValueError(value)
    text = value.upper()
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    whole, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 fractional digits
        fraction, offset = rest[:-6], rest[-6:]
        text = f"{whole}.{fraction[:6].ljust(6, '0')}{offset}"
    return datetime.fromisoformat(text).astimezone(UTC)


def replayed(request_id: str) -> ReplayedRequest:
    """The error for an ``X-Request-ID`` already used by the partner (check 6)."""
    return ReplayedRequest("X-Request-ID was already used", "seen", request_id=request_id)


class RequestAuthenticator:
    """Authenticates requests; stateless apart from the replay cache, safe to share across threads."""

    def __init__(
        self,
        validator: TokenValidator,
        lookup_api_key: ApiKeyLookup,
        deployment_secret: bytes,
        replay_cache: ReplayCache,
        *,
        max_skew_s: int = MAX_SKEW_S,
    ) -> None:
        self.validator = validator
        self.lookup_api_key = lookup_api_key
        self._deployment_secret = deployment_secret
        self.replay_cache = replay_cache
        self.max_skew_s = max_skew_s

    def authenticate(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        now: datetime,
    ) -> AuthenticatedRequest:
        """The authenticated caller, or an :class:`~api.security.AuthenticationError` subclass.

        ``path`` is the path as sent (ASGI ``raw_path``), ``raw_query`` the query string without ``?``,
        ``body`` the raw bytes; ``headers`` a mapping or ``(name, value)`` pairs (names match in any case;
        one of the five headers given twice is malformed). The HTTP pipeline runs the same checks in two
        steps (:meth:`check_headers` before the body is read, :meth:`check_signature` after) and makes the
        replay check together with the rate limit.
        """
        signed = self.check_headers(headers, now)
        authenticated = self.check_signature(signed, method, path, raw_query, hashlib.sha256(body).hexdigest())
        if not self.replay_cache.remember(signed.partner_id, signed.request_id.lower(), self.replay_ttl_s):
            raise replayed(signed.request_id)
        return authenticated

    def check_headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]], now: datetime) -> SignedHeaders:
        """Checks 1 to 4, which need no body; an :class:`~api.security.AuthenticationError` subclass on failure."""
        fields: dict[str, str] = {}
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            lowered = name.lower()
            # a repeated security header is ambiguous (which one was signed?): treat it as malformed
            fields[lowered] = _REPEATED if lowered in fields and lowered in _SIGNED_HEADERS else value
        token = self._token(fields.get("authorization"), now)
        key_id = self._key(fields.get("x-api-key"), token, now)
        request_id = self._required(fields, "x-request-id", _UUID)
        timestamp_text = self._required(fields, "x-timestamp", _TIMESTAMP)
        signature = self._required(fields, "x-signature", _HEX64)
        try:
            timestamp = parse_request_timestamp(timestamp_text)
        except ValueError:
            raise InvalidRequestSignature(
                "X-Timestamp is not a valid RFC 3339 UTC time", "malformed_timestamp", header="X-Timestamp"
            ) from None
        skew = (now - timestamp).total_seconds()
        if abs(skew) > self.max_skew_s:
            raise RequestExpired(
                f"X-Timestamp is more than {self.max_skew_s} seconds from the server time",
                "too_old" if skew > 0 else "in_future",
                server_time=now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            )
        return SignedHeaders(token, key_id, request_id, timestamp, timestamp_text, signature)

    def check_signature(
        self, signed: SignedHeaders, method: str, path: str, raw_query: str, body_sha256: str
    ) -> AuthenticatedRequest:
        """Check 5: ``X-Signature`` over the request, given the hex SHA-256 of its body."""
        secret = derive_api_secret(self._deployment_secret, signed.key_id)
        if not verify_signature_of_digest(
            secret, signed.signature, method, path, raw_query, signed.timestamp_text, signed.request_id, body_sha256
        ):
            raise InvalidRequestSignature("X-Signature does not match the request", "mismatch")
        return AuthenticatedRequest(signed.token, signed.key_id, signed.request_id, signed.timestamp)

    @property
    def replay_ttl_s(self) -> int:
        """How long a request id is remembered: twice the skew covers every instant it is still accepted."""
        return 2 * self.max_skew_s

    def _token(self, authorization: str | None, now: datetime) -> AccessToken:
        if not authorization:
            raise InvalidToken("Authorization: Bearer <token> is required", "missing", header="Authorization")
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not _TOKEN68.fullmatch(credentials):
            raise InvalidToken("Authorization must be a Bearer token", "malformed", header="Authorization")
        return self.validator.validate(credentials, now)

    def _key(self, key_id: str | None, token: AccessToken, now: datetime) -> str:
        if not key_id:
            raise KeyMismatch("X-API-Key is required", "missing", header="X-API-Key")
        record = None if key_id == _REPEATED else self.lookup_api_key(key_id)
        if record is None:
            reason = "unknown"
        elif record.partner_id != token.partner_id:
            reason = "other_partner"
        elif not record.active:
            reason = "inactive"
        elif record.expires_at is not None and now >= record.expires_at:
            reason = "expired"
        elif record.too_old_at is not None and now >= record.too_old_at:
            raise KeyTooOld(
                "X-API-Key reached the partner's maximum key age: rotate it",
                "max_age",
                header="X-API-Key",
                expired_at=format_timestamp(record.too_old_at),
            )
        else:
            return key_id
        raise KeyMismatch("X-API-Key is not an active key of the token's partner", reason, header="X-API-Key")

    @staticmethod
    def _required(fields: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str:
        header = "-".join(part.upper() if part == "id" else part.capitalize() for part in name.split("-"))
        value, label = fields.get(name), name[2:].replace("-", "_")
        if not value:
            raise InvalidRequestSignature(f"{header} is required", f"missing_{label}", header=header)
        if not pattern.fullmatch(value):
            raise InvalidRequestSignature(f"{header} is malformed", f"malformed_{label}", header=header)
        return value
