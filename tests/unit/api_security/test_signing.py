"""api.client.signing: canonical query and path, string_to_sign, signatures, request fingerprints."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.client.signing import (
    EMPTY_BODY_SHA256,
    _encode,
    canonical_path,
    canonical_query,
    request_fingerprint,
    sign,
    string_to_sign,
    verify_signature,
)

SECRET = "nW0x9Yk3JtQb5vR2LhS8fGdC1aZpUeXm7oIyTq4sK6E"
REQUEST = (
    "POST",
    "/api/v1/claims",
    "tag=fire%2Bflood&tag=auto&dryRun=false",
    "2026-01-15T14:30:00Z",
    "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b",
    (
        b'{"partnerId":"acme_insurance","partnerClaimId":"AC-2026-0042","claimType":"auto",'
        b'"claimAmount":1250.00,"currency":"USD"}'
    ),
)
EXPECTED_SIGNATURE = "5774fbc2b0b92700bfd421b824adfb456e04cd02ee022d64a2b41cf66e0a9b37"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("a=1", "a=1"),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=10&a=1", "a=1&a=10&a=2"),  # repeated names: sorted by encoded value, as strings
        ("q=hello world", "q=hello%20world"),
        ("q=hello%20world", "q=hello%20world"),
        ("q=a+b", "q=a%2Bb"),  # '+' is a literal plus (RFC 3986), not a space
        ("q=a%2bb", "q=a%2Bb"),  # hex is upper-cased
        ("k=%7Euser&k2=-._~", "k=~user&k2=-._~"),  # unreserved characters are decoded
        ("path=%2Fa%2Fb&eq=a%3Db&amp=%26", "amp=%26&eq=a%3Db&path=%2Fa%2Fb"),
        ("r=!*'();:@$,/?[]", "r=%21%2A%27%28%29%3B%3A%40%24%2C%2F%3F%5B%5D"),
        ("empty=&flag", "empty=&flag="),  # empty value and no '=' are the same
        ("a=1&&b=2&", "a=1&b=2"),  # empty pieces are dropped
        ("=x", "=x"),  # an empty name is kept
        ("name=café", "name=caf%C3%A9"),  # raw unicode is UTF-8 percent-encoded
        ("name=caf%C3%A9", "name=caf%C3%A9"),
        ("%E2%9C%93=%F0%9F%98%80", "%E2%9C%93=%F0%9F%98%80"),
        ("bad=%zz&half=%4", "bad=%25zz&half=%254"),  # malformed escapes stay literal, '%' is encoded
        ("x=a=b", "x=a%3Db"),  # only the first '=' separates name and value
        ("B=1&a=1", "B=1&a=1"),  # byte order: upper case sorts before lower case
    ],
)
def test_canonical_query_vectors(raw: str, expected: str) -> None:
    """Each raw query canonicalizes to the documented form."""
    assert canonical_query(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/api/v1/claims", "/api/v1/claims"),
        ("", "/"),
        ("/", "/"),
        ("/api/v1/documents/a b", "/api/v1/documents/a%20b"),
        ("/api/v1/documents/a%20b", "/api/v1/documents/a%20b"),
        ("/api/v1/claims/%7Eid", "/api/v1/claims/~id"),
        ("/api/v1/x%2Fy", "/api/v1/x%2Fy"),  # an escaped slash stays inside its segment
        ("/api/v1/claims/", "/api/v1/claims/"),
    ],
)
def test_canonical_path_vectors(raw: str, expected: str) -> None:
    """Path segments are decoded and re-encoded like query components; separators are kept."""
    assert canonical_path(raw) == expected


@given(st.text(alphabet="abcXYZ019-._~/%2Fé ", max_size=40))
def test_a_path_needing_no_escapes_is_kept_as_it_is(raw: str) -> None:
    """The shortcut for a path of unreserved characters and slashes gives what decoding and re-encoding each
    segment gives, for any path."""
    segments = (raw or "/").split("/")
    assert canonical_path(raw) == "/".join(_encode(unquote_to_bytes(segment)) for segment in segments)


def test_string_to_sign_known_answer() -> None:
    """The documented example's string_to_sign, byte for byte."""
    body_hash = hashlib.sha256(REQUEST[5]).hexdigest()
    assert body_hash == "aea2a40d67d0640009863dea244c80821fce0d7bacba8b1190a1871786bcd90a"
    assert string_to_sign(*REQUEST) == (
        b"POST\n/api/v1/claims\ndryRun=false&tag=auto&tag=fire%2Bflood\n2026-01-15T14:30:00Z\n"
        b"6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b\n" + body_hash.encode()
    )


def test_signature_known_answer() -> None:
    """The documented example's X-Signature, checked against a direct hmac computation too."""
    assert sign(SECRET, *REQUEST) == EXPECTED_SIGNATURE
    direct = hmac.new(SECRET.encode(), string_to_sign(*REQUEST), hashlib.sha256).hexdigest()
    assert direct == EXPECTED_SIGNATURE
    assert verify_signature(SECRET, EXPECTED_SIGNATURE, *REQUEST)


def test_empty_body_and_query() -> None:
    """No body hashes as SHA-256 of nothing; no query leaves an empty line."""
    message = string_to_sign("get", "/api/v1/claims/CLM-1", "", "2026-01-15T14:30:00Z", "id", b"")
    assert message == f"GET\n/api/v1/claims/CLM-1\n\n2026-01-15T14:30:00Z\nid\n{EMPTY_BODY_SHA256}".encode()


def test_signature_is_case_insensitive_hex_and_tolerates_junk() -> None:
    """Upper-case hex verifies; non-hex or non-ASCII input is simply wrong, never an exception."""
    assert verify_signature(SECRET, EXPECTED_SIGNATURE.upper(), *REQUEST)
    assert not verify_signature(SECRET, "é" * 64, *REQUEST)
    assert not verify_signature(SECRET, "", *REQUEST)


@pytest.mark.parametrize("index", range(6))
def test_tampering_any_component_fails(index: int) -> None:
    """Changing method, path, query, timestamp, request id or body invalidates the signature."""
    changed = list(REQUEST)
    changed[index] = {
        0: "PUT",
        1: "/api/v1/claim",
        2: "tag=fire%2Bflood&tag=auto&dryRun=true",
        3: "2026-01-15T14:30:01Z",
        4: "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6c",
        5: REQUEST[5].replace(b"1250.00", b"1250.01"),
    }[index]
    assert not verify_signature(SECRET, EXPECTED_SIGNATURE, *changed)  # type: ignore[arg-type]


def test_wrong_secret_fails() -> None:
    """Another secret (or the same secret's bytes off by one) does not verify."""
    assert not verify_signature(SECRET[:-1] + "F", EXPECTED_SIGNATURE, *REQUEST)
    assert verify_signature(SECRET.encode(), EXPECTED_SIGNATURE, *REQUEST)  # bytes or str: same key


def test_request_fingerprint_ignores_escaping_and_order_but_not_content() -> None:
    """Fingerprints agree for equivalent URLs and differ when method, path, query or body differ."""
    base = request_fingerprint("POST", "/api/v1/claims", "b=2&a=1", b"{}")
    assert base == request_fingerprint("post", "/api/v1/claims", "a=1&b=%32", b"{}")
    for other in (
        ("PUT", "/api/v1/claims", "b=2&a=1", b"{}"),
        ("POST", "/api/v1/claimz", "b=2&a=1", b"{}"),
        ("POST", "/api/v1/claims", "b=3&a=1", b"{}"),
        ("POST", "/api/v1/claims", "b=2&a=1", b"{ }"),
    ):
        assert request_fingerprint(*other) != base


_PAIR_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="&="), max_size=8)
_PAIRS = st.lists(st.tuples(_PAIR_TEXT, _PAIR_TEXT), max_size=8)


def _join(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in pairs)


@given(_PAIRS, st.randoms(use_true_random=False))
def test_canonical_query_is_order_independent(pairs: list[tuple[str, str]], random: object) -> None:
    """Any permutation of the pairs canonicalizes identically."""
    shuffled = list(pairs)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert canonical_query(_join(pairs)) == canonical_query(_join(shuffled))


@given(st.text(max_size=60))
def test_canonical_query_is_idempotent(raw: str) -> None:
    """Canonicalizing a canonical query changes nothing, and the result is pure unreserved ASCII + escapes."""
    once = canonical_query(raw)
    assert canonical_query(once) == once
    assert all(c.isascii() and (c.isalnum() or c in "-._~%=&") for c in once)


_LITERAL_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="&=%"), max_size=8)


@given(st.lists(st.tuples(_LITERAL_TEXT, _LITERAL_TEXT), max_size=8))
def test_canonical_query_is_stable_under_percent_encoding(pairs: list[tuple[str, str]]) -> None:
    """Percent-encoding every byte of every literal component (as a cautious client might) changes nothing."""
    from urllib.parse import quote

    encoded = [(quote(n, safe=""), quote(v, safe="")) for n, v in pairs]
    assert canonical_query(_join(pairs)) == canonical_query(_join(encoded))
