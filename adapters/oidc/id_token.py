"""ID token validation (OpenID Connect Core 1.0 section 3.1.3.7, RFC 8725), with joserfc.

The algorithm comes from an allow-list of asymmetric algorithms, never from the token: ``none`` and the
HMAC family (``HS*``, which a provider would have to sign with our client secret) are refused before any
key is looked at (RFC 8725 sections 2.1 and 3.1). The key is the provider's JWKS entry named by ``kid``
(a ``kid`` not in the set is :attr:`~OidcCheck.UNKNOWN_SIGNING_KEY`: the caller refetches the JWKS once
for a rotation, then refuses). Then, in the order of section 3.1.3.7: ``iss`` equals the issuer of the
discovery document (step 2), ``aud`` contains our client id and ``azp`` names us when there are several
audiences (steps 3-5), ``exp`` is in the future and ``iat`` not in it, within ``leeway`` seconds (steps
9-10), and ``nonce`` equals the one this browser's request carried (step 11).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import Key, KeySet

from adapters.oidc.errors import OidcCheck

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Signature algorithms an id_token may use: asymmetric only (no ``none``, no ``HS*``)."""

_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class IdTokenInvalid(Exception):
    """The check ``reason`` failed on an id_token."""

    def __init__(self, reason: OidcCheck, evidence: str) -> None:
        super().__init__(evidence)
        self.reason = reason
        self.evidence = evidence


def token_header(raw: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, unverified (to choose the key and refuse the algorithm)."""
    try:
        return dict(jws.extract_compact(raw.encode("ascii")).protected)
    except (JoseError, ValueError, UnicodeEncodeError) as error:
        raise IdTokenInvalid(OidcCheck.MALFORMED_TOKEN, f"not a compact JWS: {error}") from error


def signing_key(header: Mapping[str, Any], keys: KeySet) -> Key:
    """The JWKS key that must have signed a token with ``header`` (refusing disallowed algorithms first)."""
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise IdTokenInvalid(OidcCheck.ALGORITHM_REFUSED, f"alg {alg!r} is not in the allow-list")
    kid = header.get("kid")
    key_type = _KEY_TYPES[str(alg)[:2]]
    if kid is None:
        candidates = [k for k in keys if k.key_type == key_type]
        if len(candidates) != 1:
            raise IdTokenInvalid(OidcCheck.UNKNOWN_SIGNING_KEY, f"no kid and {len(candidates)} {key_type} keys")
        return candidates[0]
    try:
        key = keys.get_by_kid(str(kid))
    except InvalidKeyIdError as error:
        raise IdTokenInvalid(OidcCheck.UNKNOWN_SIGNING_KEY, f"kid {kid!r} is not in the provider's JWKS") from error
    if key.key_type != key_type:
        raise IdTokenInvalid(OidcCheck.ALGORITHM_REFUSED, f"alg {alg} does not fit key {kid!r} ({key.key_type})")
    return key


def validate_id_token(
    raw: str, *, keys: KeySet, issuer: str, client_id: str, nonce: str, now: float, leeway: int = 60
) -> dict[str, Any]:
    """The claims of ``raw`` once every check of section 3.1.3.7 passed; else :class:`IdTokenInvalid`."""
    header = token_header(raw)
    key = signing_key(header, keys)
    try:
        claims = dict(jwt.decode(raw, key, algorithms=[str(header["alg"])]).claims)
    except BadSignatureError as error:
        raise IdTokenInvalid(OidcCheck.BAD_SIGNATURE, "signature does not verify with the provider's key") from error
    except JoseError as error:
        raise IdTokenInvalid(OidcCheck.MALFORMED_TOKEN, f"undecodable id_token: {error}") from error
    check_claims(claims, issuer=issuer, client_id=client_id, nonce=nonce, now=now, leeway=leeway)
    return claims


def check_claims(
    claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now: float, leeway: int
) -> None:
    """Steps 2-5 and 9-11 of OIDC Core section 3.1.3.7 on already verified ``claims``."""
    if claims.get("iss") != issuer:
        raise IdTokenInvalid(OidcCheck.WRONG_ISSUER, f"iss {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience) if isinstance(audience, list) else []
    if client_id not in audiences:
        raise IdTokenInvalid(OidcCheck.WRONG_AUDIENCE, f"aud {audiences!r} does not contain our client id")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IdTokenInvalid(OidcCheck.WRONG_AUDIENCE, f"several audiences and azp {claims.get('azp')!r}")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise IdTokenInvalid(OidcCheck.MALFORMED_TOKEN, "exp and iat must be numbers")
    if exp + leeway <= now:
        raise IdTokenInvalid(OidcCheck.TOKEN_EXPIRED, f"exp {exp} is before now {int(now)}")
    if iat - leeway > now:
        raise IdTokenInvalid(OidcCheck.ISSUED_IN_FUTURE, f"iat {iat} is after now {int(now)}")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise IdTokenInvalid(OidcCheck.MALFORMED_TOKEN, "sub is missing")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise IdTokenInvalid(OidcCheck.NONCE_MISMATCH, "nonce differs from the one this login sent")
