"""OAuth 2.0 client credentials (RFC 6749 §4.4) and RFC 9068 access tokens, validated per RFC 8725.

Tokens are JWS compact, ``alg`` ``EdDSA`` (Ed25519), header ``typ: at+jwt`` and ``kid`` = the RFC 7638
thumbprint of the public key; claims ``iss aud sub client_id iat exp jti scope``, one hour. ``sub`` is
the partner id, ``client_id`` its OAuth client (``partner_<slug>``), ``scope`` space-separated.

Validation never trusts the token about how to validate it: the algorithm allow-list is fixed
(``["EdDSA"]``), keys come only from our JWKS by ``kid`` (an unknown ``kid`` is refused, a token cannot
bring its own key), ``typ`` must be ``at+jwt``, and ``iss``, ``aud``, ``exp``, ``iat``, ``jti``, ``sub``
and ``client_id`` are required and checked against the caller's clock with a 30-second leeway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from api.security import InvalidToken
from ledger_core.engine.errors import InvalidCommand, LedgerError
from proofs.note import public_key_to_raw

__all__ = [
    "ALGORITHMS",
    "TOKEN_LIFETIME_S",
    "AccessToken",
    "IssuedToken",
    "OAuthError",
    "TokenIssuer",
    "TokenRequest",
    "TokenValidator",
    "generate_signing_key",
    "grant_scopes",
    "jwk_thumbprint",
    "parse_token_request",
    "public_jwk",
]

ALGORITHMS = ["EdDSA"]  # RFC 8725 §3.1: a fixed allow-list, never taken from the token
TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti", "sub", "client_id"]
TOKEN_LIFETIME_S = 3600
DEFAULT_LEEWAY_S = 30
MAX_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 4096
"""Verified token strings a validator remembers (a partner reuses its token for up to an hour)."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwk_thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint: base64url SHA-256 of ``{"crv":"Ed25519","kty":"OKP","x":...}`` (RFC 8037 §2)."""
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64url(public_key_to_raw(key))}, separators=(",", ":"))
    return _b64url(hashlib.sha256(members.encode("ascii")).digest())


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public JWK of ``key`` as published in the JWKS."""
    x = _b64url(public_key_to_raw(key))
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": jwk_thumbprint(key), "use": "sig", "alg": "EdDSA"}


def generate_signing_key() -> bytes:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM (keep it 0600, like every secret)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_from_pem(pem: bytes) -> Ed25519PublicKey:
    """The public key of a PEM private or public Ed25519 key."""
    try:
        loaded: Any = serialization.load_pem_private_key(pem, password=None).public_key()
    except (ValueError, TypeError):
        try:
            loaded = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            raise InvalidCommand("token key is not a PEM key", field="token_key") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise InvalidCommand("token keys must be Ed25519", field="token_key")
    return loaded


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A validated access token: who (partner, client), what (scopes), which (jti) and until when."""

    partner_id: str
    client_id: str
    scopes: tuple[str, ...]
    jti: str
    issued_at: datetime
    expires_at: datetime

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued token and the RFC 6749 §5.1 response body describing it."""

    access_token: str
    expires_in: int
    scopes: tuple[str, ...]
    jti: str

    def response(self) -> dict[str, Any]:
        """The token endpoint's JSON body (send with ``Cache-Control: no-store``)."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(self.scopes),
        }


class TokenIssuer:
    """Signs access tokens with the current key; publishes current and previous public keys as a JWKS."""

    def __init__(
        self,
        signing_key_pem: bytes,
        *,
        issuer: str,
        audience: str,
        previous_keys_pem: Sequence[bytes] = (),
        lifetime_s: int = TOKEN_LIFETIME_S,
    ) -> None:
        try:
            key = serialization.load_pem_private_key(signing_key_pem, password=None)
        except (ValueError, TypeError):
            raise InvalidCommand("the token signing key is not a PEM private key", field="token_key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidCommand("the token signing key must be Ed25519", field="token_key")
        self._key = key
        self.kid = jwk_thumbprint(key.public_key())
        self.issuer, self.audience, self.lifetime_s = issuer, audience, lifetime_s
        self._public = [key.public_key(), *(_public_from_pem(pem) for pem in previous_keys_pem)]

    def issue(self, *, partner_id: str, client_id: str, scopes: Iterable[str], now: datetime) -> IssuedToken:
        """A signed RFC 9068 access token for ``partner_id`` valid for :attr:`lifetime_s` from ``now``."""
        granted = tuple(sorted(set(scopes)))
        issued_at = int(now.timestamp())
        jti = str(uuid.uuid4())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": partner_id,
            "client_id": client_id,
            "iat": issued_at,
            "exp": issued_at + self.lifetime_s,
            "jti": jti,
            "scope": " ".join(granted),
        }
        token = jwt.encode(claims, self._key, algorithm="EdDSA", headers={"typ": "at+jwt", "kid": self.kid})
        return IssuedToken(token, self.lifetime_s, granted, jti)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """``/.well-known/jwks.json``: the current key first, then previous ones still accepted."""
        seen: dict[str, dict[str, str]] = {}
        for key in self._public:
            jwk = public_jwk(key)
            seen.setdefault(jwk["kid"], jwk)
        return {"keys": list(seen.values())}

    def validator(self, leeway_s: int = DEFAULT_LEEWAY_S) -> TokenValidator:
        """A validator trusting exactly this issuer's JWKS."""
        return TokenValidator(self.jwks(), issuer=self.issuer, audience=self.audience, leeway_s=leeway_s)


def _keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or jwk.get("alg", "EdDSA") != "EdDSA":
            continue  # only keys usable with the allow-listed algorithm
        x = str(jwk.get("x", ""))
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
        except (ValueError, binascii.Error):
            raise InvalidCommand("JWKS holds a malformed Ed25519 key", field="jwks") from None
        keys[str(jwk.get("kid") or jwk_thumbprint(key))] = key
    return keys


def _fail(reason: str, message: str) -> InvalidToken:
    return InvalidToken(message, reason)


class TokenValidator:
    """Validates bearer tokens against a JWKS, an issuer and an audience (RFC 8725, RFC 9068 §4)."""

    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        issuer: str,
        audience: str,
        leeway_s: int = DEFAULT_LEEWAY_S,
        cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        self._keys = _keys_from_jwks(jwks)
        self.issuer, self.audience, self.leeway_s = issuer, audience, leeway_s
        self._cache_size = cache_size
        self._verified: dict[str, dict[str, Any]] = {}

    def validate(self, token: str, now: datetime) -> AccessToken:
        """The token's claims if every check passes at ``now``; :class:`InvalidToken` with a reason otherwise.

        A token string whose header, signature, issuer and audience passed once is remembered (at most
        ``cache_size``, this validator's keys only): repeating it costs only the time checks, which run
        on every call. Ed25519 verification is a pure function of key, token and signature, so the
        cached answer is the one a new verification would give; failures are never cached.
        """
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise _fail("malformed", "the bearer token is not a compact JWS")
        payload = self._verified.get(token)
        if payload is None:
            payload = self._verify(token)
            if len(self._verified) >= self._cache_size:
                self._verified.clear()  # simple bound; a partner's next request re-verifies once
            self._verified[token] = payload
        return self._check_claims(payload, now)

    def verified_subject(self, token: str) -> str | None:
        """The ``sub`` of ``token`` if it was already verified by :meth:`validate`, else None (no work)."""
        payload = self._verified.get(token)
        subject = None if payload is None else payload.get("sub")
        return subject if isinstance(subject, str) else None

    def _verify(self, token: str) -> dict[str, Any]:
        """Header checks (typ, alg allow-list, kid in our JWKS), then signature, issuer and audience."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _fail("malformed", "the bearer token header cannot be read") from None
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in TOKEN_TYPES:
            raise _fail("wrong_type", "the bearer token is not an access token (typ at+jwt)")
        if header.get("alg") not in ALGORITHMS:
            raise _fail("bad_algorithm", "the bearer token algorithm is not accepted")
        key = self._keys.get(header.get("kid", ""))
        if key is None:
            raise _fail("unknown_key", "the bearer token was signed with an unknown key")
        return self._decode(token, key)

    def _decode(self, token: str, key: Ed25519PublicKey) -> dict[str, Any]:
        options: jwt.types.Options = {
            "require": REQUIRED_CLAIMS,
            "verify_exp": False,  # checked below against the injected clock
            "verify_iat": False,
            "verify_nbf": False,
        }
        try:
            payload: dict[str, Any] = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer, options=options
            )
        except jwt.InvalidSignatureError:
            raise _fail("bad_signature", "the bearer token signature is invalid") from None
        except jwt.InvalidAlgorithmError:
            raise _fail("bad_algorithm", "the bearer token algorithm is not accepted") from None
        except jwt.MissingRequiredClaimError as error:
            raise _fail("missing_claim", f"the bearer token lacks the {error.claim!r} claim") from None
        except jwt.InvalidAudienceError:
            raise _fail("wrong_audience", "the bearer token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise _fail("wrong_issuer", "the bearer token is from another issuer") from None
        except jwt.PyJWTError:
            raise _fail("malformed", "the bearer token cannot be decoded") from None
        return payload

    def _check_claims(self, payload: Mapping[str, Any], now: datetime) -> AccessToken:
        numbers = [payload.get(name) for name in ("iat", "exp")]
        texts = [payload.get(name) for name in ("sub", "client_id", "jti")]
        scope = payload.get("scope", "")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers) or not all(
            isinstance(t, str) and t for t in texts
        ):
            raise _fail("malformed", "the bearer token claims have the wrong types")
        if not isinstance(scope, str):
            raise _fail("malformed", "the bearer token scope must be a string")
        issued_at, expires_at = int(payload["iat"]), int(payload["exp"])
        moment = now.timestamp()
        if moment >= expires_at + self.leeway_s:
            raise _fail("expired", "the bearer token has expired")
        not_before = payload.get("nbf", issued_at)
        if not isinstance(not_before, int | float) or max(issued_at, not_before) > moment + self.leeway_s:
            raise _fail("not_yet_valid", "the bearer token is not valid yet")
        return AccessToken(
            partner_id=payload["sub"],
            client_id=payload["client_id"],
            scopes=tuple(scope.split()),
            jti=payload["jti"],
            issued_at=datetime.fromtimestamp(issued_at, UTC),
            expires_at=datetime.fromtimestamp(expires_at, UTC),
        )


_OAUTH_CODES = {
    "invalid_request": "VALIDATION_ERROR",
    "invalid_client": "AUTH_INVALID_CLIENT",
    "unsupported_grant_type": "UNSUPPORTED_GRANT_TYPE",
    "invalid_scope": "INVALID_SCOPE",
}


class OAuthError(LedgerError):
    """A token endpoint error: RFC 6749 §5.2 ``error`` (:meth:`body`) and ``status``; ``code`` for the envelope."""

    code = "VALIDATION_ERROR"

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description, error=error)
        self.error, self.description, self.status = error, description, status
        self.code = _OAUTH_CODES.get(error, "VALIDATION_ERROR")

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A parsed client-credentials request; ``scopes`` None means "every scope the partner has"."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] | None
    used_basic: bool


def _form_params(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    if any(len(values) > 1 for values in parsed.values()):
        raise OAuthError("invalid_request", "a parameter is repeated")  # RFC 6749 §3.2
    return {name: values[0] for name, values in parsed.items()}


def _json_params(body: bytes) -> dict[str, str]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[" x 1,000
        raise OAuthError("invalid_request", "the body is not valid JSON") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise OAuthError("invalid_request", "the body must be a JSON object of strings")
    return parsed


def _basic_credentials(authorization: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: base64(form-encoded client_id ":" form-encoded client_secret)."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "client authentication must use HTTP Basic", 401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: a non-ASCII header (Latin-1); UnicodeDecodeError is one
        raise OAuthError("invalid_client", "malformed Basic credentials", 401) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "malformed Basic credentials", 401)
    return unquote_plus(client_id), unquote_plus(secret)


def parse_token_request(content_type: str | None, body: bytes, authorization: str | None) -> TokenRequest:
    """Parse ``POST /oauth/token`` (form or JSON body; client auth by HTTP Basic or in the body, not both)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json":
        params = _json_params(body)
    elif media in ("application/x-www-form-urlencoded", ""):
        params = _form_params(body)
    else:
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded or JSON")
    grant_type = params.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    in_body = "client_id" in params or "client_secret" in params
    if authorization and in_body:
        raise OAuthError("invalid_request", "use one client authentication method, not both")  # RFC 6749 §2.3
    if authorization:
        client_id, secret = _basic_credentials(authorization)
    else:
        client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
    if not client_id or not secret:
        raise OAuthError("invalid_client", "client_id and client_secret are required", 401)
    scope = params.get("scope")
    scopes = None if scope is None else tuple(sorted(set(scope.split())))
    return TokenRequest(client_id, secret, scopes, bool(authorization))


def grant_scopes(requested: tuple[str, ...] | None, allowed: Iterable[str]) -> tuple[str, ...]:
    """The scopes to put in the token: all of ``allowed`` when none were asked for, else a subset of it."""
    permitted = set(allowed)
    if requested is None:
        return tuple(sorted(permitted))
    extra = sorted(set(requested) - permitted)
    if extra:
        raise OAuthError("invalid_scope", f"scopes not granted to this client: {' '.join(extra)}")
    return tuple(sorted(set(requested)))
