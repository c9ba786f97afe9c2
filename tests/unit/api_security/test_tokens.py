"""api.security.tokens: RFC 9068 issuing, RFC 8725 validation (every rejection named), JWKS, token requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from api.security import InvalidToken
from api.security.tokens import (
    OAuthError,
    TokenIssuer,
    TokenValidator,
    generate_signing_key,
    grant_scopes,
    jwk_thumbprint,
    parse_token_request,
)

from .helpers import AUDIENCE, ISSUER, NOW


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**changes: Any) -> dict[str, Any]:
    iat = int(NOW.timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "acme_insurance",
        "client_id": "partner_acme_insurance",
        "iat": iat,
        "exp": iat + 3600,
        "jti": "0b7c6f7e-5b1a-4a39-8c1c-0f6a7d1f2e3b",
        "scope": "claims:read claims:write",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _private(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def _signed(pem: bytes, claims: dict[str, Any], **header: Any) -> str:
    key = _private(pem)
    headers = {"typ": "at+jwt", "kid": jwk_thumbprint(key.public_key()), **header}
    return jwt.encode(claims, key, algorithm="EdDSA", headers=headers)


def _reason(validator: TokenValidator, token: str, at: Any = NOW) -> str:
    with pytest.raises(InvalidToken) as caught:
        validator.validate(token, at)
    assert caught.value.code == "AUTH_INVALID_TOKEN"
    return caught.value.reason


def test_round_trip(issuer: TokenIssuer) -> None:
    """An issued token validates to its partner, client, scopes, jti and one-hour expiry."""
    issued = issuer.issue(
        partner_id="acme_insurance",
        client_id="partner_acme_insurance",
        scopes=["claims:write", "claims:read", "claims:read"],
        now=NOW,
    )
    token = issuer.validator().validate(issued.access_token, NOW + timedelta(minutes=59))
    assert (token.partner_id, token.client_id) == ("acme_insurance", "partner_acme_insurance")
    assert token.scopes == ("claims:read", "claims:write")
    assert token.has_scope("claims:read")
    assert token.jti == issued.jti
    assert token.expires_at - token.issued_at == timedelta(hours=1)
    assert issued.response() == {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "claims:read claims:write",
    }


def test_token_header_and_claims_follow_rfc_9068(issuer: TokenIssuer) -> None:
    """Header typ at+jwt, alg EdDSA, kid = thumbprint; claims iss aud sub client_id iat exp jti scope."""
    issued = issuer.issue(partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=[], now=NOW)
    header = jwt.get_unverified_header(issued.access_token)
    assert header == {"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.kid}
    claims = jwt.decode(issued.access_token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "client_id", "iat", "exp", "jti", "scope"}
    assert claims["exp"] - claims["iat"] == 3600


def test_thumbprint_matches_rfc_8037_vector() -> None:
    """The RFC 8037 appendix A.3 key has the published RFC 7638 thumbprint."""
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))
    assert jwk_thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_jwks_shape_and_rotation(signing_key_pem: bytes) -> None:
    """JWKS lists current then previous public keys (no private parts); old tokens validate after rotation."""
    old_pem = generate_signing_key()
    old = TokenIssuer(old_pem, issuer=ISSUER, audience=AUDIENCE)
    old_token = old.issue(partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=[], now=NOW)
    current = TokenIssuer(signing_key_pem, issuer=ISSUER, audience=AUDIENCE, previous_keys_pem=[old_pem])
    keys = current.jwks()["keys"]
    assert [k["kid"] for k in keys] == [current.kid, old.kid]
    for key in keys:
        assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
        assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
        assert len(key["x"]) == 43
        assert len(key["kid"]) == 43
    assert current.validator().validate(old_token.access_token, NOW).partner_id == "acme_insurance"
    assert (
        _reason(TokenIssuer(signing_key_pem, issuer=ISSUER, audience=AUDIENCE).validator(), old_token.access_token)
        == "unknown_key"
    )


def test_alg_none_rejected(issuer: TokenIssuer) -> None:
    """An unsigned token (alg none) is refused before anything else is looked at."""
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": issuer.kid}).encode())
    token = f"{header}.{_b64(json.dumps(_claims()).encode())}."
    assert _reason(issuer.validator(), token) == "bad_algorithm"


@pytest.mark.parametrize("secret_form", ["pem", "raw", "jwk_x"])
def test_hs256_with_the_public_key_as_secret_rejected(issuer: TokenIssuer, secret_form: str) -> None:
    """The key-confusion attack (HMAC keyed with our public key) fails: only EdDSA is allowed."""
    public = _private_public(issuer)
    secret = {
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "jwk_x": issuer.jwks()["keys"][0]["x"].encode(),
    }[secret_form]
    header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": issuer.kid}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    signature = _b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert _reason(issuer.validator(), f"{header}.{payload}.{signature}") == "bad_algorithm"


def _private_public(issuer: TokenIssuer) -> Ed25519PublicKey:
    x = issuer.jwks()["keys"][0]["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+JWT-ish", None])
def test_wrong_typ_rejected(issuer: TokenIssuer, signing_key_pem: bytes, typ: str | None) -> None:
    """Only typ at+jwt (or application/at+jwt) is an access token: an ID token or untyped JWT is refused."""
    token = _signed(signing_key_pem, _claims(), typ=typ)
    assert _reason(issuer.validator(), token) == "wrong_type"


def test_application_at_jwt_typ_accepted(issuer: TokenIssuer, signing_key_pem: bytes) -> None:
    """RFC 9068 §4 also allows the full media type, case-insensitively."""
    token = _signed(signing_key_pem, _claims(), typ="application/AT+JWT")
    assert issuer.validator().validate(token, NOW).partner_id == "acme_insurance"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "https://other.test/api"}, "wrong_audience"),
        ({"aud": ["https://other.test/api"]}, "wrong_audience"),
        ({"iss": "https://evil.test"}, "wrong_issuer"),
        ({"iat": "yesterday"}, "malformed"),
        ({"exp": True}, "malformed"),
        ({"sub": 42}, "malformed"),
        ({"scope": ["claims:read"]}, "malformed"),
    ],
)
def test_claim_mismatches_rejected(
    issuer: TokenIssuer, signing_key_pem: bytes, changes: dict[str, Any], reason: str
) -> None:
    """Another audience or issuer, or a claim of the wrong type, is refused with its reason."""
    assert _reason(issuer.validator(), _signed(signing_key_pem, _claims(**changes))) == reason


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "jti", "sub", "client_id"])
def test_missing_claims_rejected(issuer: TokenIssuer, signing_key_pem: bytes, claim: str) -> None:
    """Every RFC 9068 claim is required."""
    assert _reason(issuer.validator(), _signed(signing_key_pem, _claims(**{claim: None}))) == "missing_claim"


def test_expiry_with_leeway(issuer: TokenIssuer) -> None:
    """Valid up to 30 s past exp, refused after; a token from the future (beyond leeway) is refused."""
    token = issuer.issue(partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=[], now=NOW)
    validator = issuer.validator()
    validator.validate(token.access_token, NOW + timedelta(seconds=3600 + 29))
    assert _reason(validator, token.access_token, NOW + timedelta(seconds=3600 + 30)) == "expired"
    assert _reason(validator, token.access_token, NOW - timedelta(seconds=31)) == "not_yet_valid"
    validator.validate(token.access_token, NOW - timedelta(seconds=29))


def test_unknown_kid_rejected(issuer: TokenIssuer) -> None:
    """A token signed by a key outside our JWKS is refused, whatever kid it names (or none)."""
    stranger = generate_signing_key()
    assert _reason(issuer.validator(), _signed(stranger, _claims())) == "unknown_key"
    assert _reason(issuer.validator(), _signed(stranger, _claims(), kid="not-ours")) == "unknown_key"
    no_kid = jwt.encode(_claims(), _private(stranger), algorithm="EdDSA", headers={"typ": "at+jwt"})
    assert _reason(issuer.validator(), no_kid) == "unknown_key"


def test_foreign_key_claiming_our_kid_rejected(issuer: TokenIssuer) -> None:
    """A token signed by another key but naming our kid fails signature verification."""
    token = _signed(generate_signing_key(), _claims(), kid=issuer.kid)
    assert _reason(issuer.validator(), token) == "bad_signature"


def test_tampered_payload_rejected(issuer: TokenIssuer) -> None:
    """Swapping the payload of a genuine token (e.g. another sub) breaks the signature."""
    token = issuer.issue(partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=[], now=NOW)
    header, _, signature = token.access_token.split(".")
    forged = f"{header}.{_b64(json.dumps(_claims(sub='globex')).encode())}.{signature}"
    assert _reason(issuer.validator(), forged) == "bad_signature"


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!!.###.$$$", "x" * 9000])
def test_malformed_tokens_rejected(issuer: TokenIssuer, token: str) -> None:
    """Anything that is not a compact JWS is malformed."""
    assert _reason(issuer.validator(), token) == "malformed"


def test_validator_from_published_jwks_only(issuer: TokenIssuer) -> None:
    """A resource server holding just the published JWKS validates our tokens."""
    published = json.loads(json.dumps(issuer.jwks()))
    validator = TokenValidator(published, issuer=ISSUER, audience=AUDIENCE)
    token = issuer.issue(partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=[], now=NOW)
    assert validator.validate(token.access_token, NOW).client_id == "partner_acme_insurance"


def test_issuer_refuses_non_ed25519_keys() -> None:
    """The issuer only signs with Ed25519 (asymmetric, one algorithm)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(Exception, match="Ed25519"):
        TokenIssuer(pem, issuer=ISSUER, audience=AUDIENCE)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_token_request_form_json_and_basic() -> None:
    """Form and JSON bodies, body credentials or HTTP Basic, all parse to the same request."""
    form = b"grant_type=client_credentials&client_id=partner_acme&client_secret=cs_x&scope=claims%3Aread"
    parsed = parse_token_request("application/x-www-form-urlencoded", form, None)
    assert (parsed.client_id, parsed.client_secret, parsed.scopes, parsed.used_basic) == (
        "partner_acme",
        "cs_x",
        ("claims:read",),
        False,
    )
    body = json.dumps({"grant_type": "client_credentials", "client_id": "partner_acme", "client_secret": "cs_x"})
    parsed = parse_token_request("application/json; charset=utf-8", body.encode(), None)
    assert (parsed.client_id, parsed.client_secret, parsed.scopes) == ("partner_acme", "cs_x", None)
    parsed = parse_token_request(
        "application/x-www-form-urlencoded", b"grant_type=client_credentials", _basic("partner_acme", "cs_a%3Ab")
    )
    assert (parsed.client_id, parsed.client_secret, parsed.used_basic) == ("partner_acme", "cs_a:b", True)


@pytest.mark.parametrize(
    ("content_type", "body", "authorization", "error", "status"),
    [
        ("application/json", b'{"client_id":"a","client_secret":"b"}', None, "invalid_request", 400),
        ("application/json", b'{"grant_type":"password","client_id":"a"}', None, "unsupported_grant_type", 400),
        ("application/json", b"[1]", None, "invalid_request", 400),
        ("application/json", b"{", None, "invalid_request", 400),
        ("text/plain", b"grant_type=client_credentials", None, "invalid_request", 400),
        (None, b"grant_type=client_credentials&grant_type=client_credentials", None, "invalid_request", 400),
        (None, b"grant_type=client_credentials", None, "invalid_client", 401),
        (None, b"grant_type=client_credentials&client_id=a", None, "invalid_client", 401),
        (None, b"grant_type=client_credentials&client_id=a&client_secret=b", "Basic YTpi", "invalid_request", 400),
        (None, b"grant_type=client_credentials", "Bearer abc", "invalid_client", 401),
        (None, b"grant_type=client_credentials", "Basic !!!", "invalid_client", 401),
        (
            None,
            b"grant_type=client_credentials",
            "Basic " + base64.b64encode(b"nocolon").decode(),
            "invalid_client",
            401,
        ),
    ],
)
def test_token_request_errors(
    content_type: str | None, body: bytes, authorization: str | None, error: str, status: int
) -> None:
    """Bad token requests fail with the RFC 6749 §5.2 error and status."""
    with pytest.raises(OAuthError) as caught:
        parse_token_request(content_type, body, authorization)
    assert (caught.value.error, caught.value.status) == (error, status)
    assert caught.value.body()["error"] == error


def test_grant_scopes() -> None:
    """No scope asked: every allowed scope; a subset: itself; anything more: invalid_scope."""
    allowed = ["claims:read", "claims:write"]
    assert grant_scopes(None, allowed) == ("claims:read", "claims:write")
    assert grant_scopes(("claims:read",), allowed) == ("claims:read",)
    with pytest.raises(OAuthError) as caught:
        grant_scopes(("claims:read", "audit:read"), allowed)
    assert caught.value.error == "invalid_scope"
    assert caught.value.code == "INVALID_SCOPE"


def test_a_verified_token_is_remembered_but_its_times_are_checked_on_every_use(
    issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second validation of the same string skips the signature check, never the expiry check."""
    validator = issuer.validator()
    token = issuer.issue(
        partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=["claims:read"], now=NOW
    )
    first = validator.validate(token.access_token, NOW)
    assert validator.verified_subject(token.access_token) == "acme_insurance"

    def no_decoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a remembered token must not be decoded again")

    monkeypatch.setattr(jwt, "decode", no_decoding)
    monkeypatch.setattr(jwt, "get_unverified_header", no_decoding)
    assert validator.validate(token.access_token, NOW + timedelta(minutes=5)) == first
    with pytest.raises(InvalidToken) as raised:
        validator.validate(token.access_token, NOW + timedelta(hours=2))
    assert raised.value.reason == "expired"


def test_failures_are_not_remembered_and_the_cache_is_bounded(issuer: TokenIssuer) -> None:
    validator = TokenValidator(issuer.jwks(), issuer=ISSUER, audience=AUDIENCE, cache_size=2)
    token = issuer.issue(partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=[], now=NOW)
    head, payload, signature = token.access_token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    for _ in range(2):
        with pytest.raises(InvalidToken):
            validator.validate(forged, NOW)
        assert validator.verified_subject(forged) is None
    for n in range(5):
        other = issuer.issue(partner_id=f"p{n}", client_id=f"partner_p{n}", scopes=[], now=NOW)
        assert validator.validate(other.access_token, NOW).partner_id == f"p{n}"
        assert len(validator._verified) <= 2
