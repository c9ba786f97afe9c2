"""Request signing: what is signed and how, shared by the server and the partner SDK (stdlib only).

::

    string_to_sign = METHOD "\\n" PATH "\\n" CANONICAL_QUERY "\\n"
                     X-Timestamp "\\n" X-Request-ID "\\n" hex(SHA-256(body))
    X-Signature    = hex(HMAC-SHA256(UTF-8(apiSecret), string_to_sign))

METHOD is upper-cased. PATH and CANONICAL_QUERY are canonical forms (AWS SigV4 style), so both sides
agree however a client or a framework escaped the URL: every path segment and every query name and
value is percent-decoded, then re-encoded leaving only the RFC 3986 unreserved characters
(``A-Z a-z 0-9 - . _ ~``) as they are, with upper-case hex. ``+`` is a literal plus (RFC 3986), not a
space. Query pairs are sorted by encoded name, then encoded value, and joined with ``&``; a name without
``=`` has the empty value; empty pairs (``a=1&&b=2``) are dropped. X-Timestamp and X-Request-ID are
the header values exactly as sent. The body is the raw bytes on the wire (empty body: SHA-256 of "").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import unquote_to_bytes

__all__ = [
    "EMPTY_BODY_SHA256",
    "canonical_path",
    "canonical_query",
    "fingerprint_of_digest",
    "request_fingerprint",
    "sign",
    "string_to_sign",
    "string_to_sign_of_digest",
    "verify_signature",
    "verify_signature_of_digest",
]

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_CANONICAL_PATH = re.compile(r"[A-Za-z0-9._~/-]+")
"""A path of unreserved characters and ``/`` only: each of its segments is already in canonical form."""
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def _encode(raw: bytes) -> str:
    """Percent-encode every byte outside the unreserved set, upper-case hex."""
    return "".join(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in raw)


def _recode(text: str) -> str:
    """Percent-decode (malformed escapes stay literal) and re-encode canonically."""
    return _encode(unquote_to_bytes(text))


def canonical_query(raw_query: str) -> str:
    """The canonical form of a raw query string (without ``?``); ``""`` when there are no pairs."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_recode(name), _recode(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_path(path: str) -> str:
    """The canonical form of an absolute path: each ``/``-separated segment decoded then re-encoded.

    Pass the path as sent (ASGI ``raw_path``): an escaped slash (``%2F``) is part of a segment there,
    but a separator in an already-decoded path. A path with nothing to decode or escape (the usual case,
    ``/api/v1/claims/<uuid>``) is its own canonical form and is returned as it is.
    """
    path = path or "/"
    if _CANONICAL_PATH.fullmatch(path):
        return path
    return "/".join(_recode(segment) for segment in path.split("/"))


def string_to_sign(method: str, path: str, raw_query: str, timestamp: str, request_id: str, body: bytes) -> bytes:
    """The exact bytes that are signed (see the module docstring)."""
    return string_to_sign_of_digest(method, path, raw_query, timestamp, request_id, hashlib.sha256(body).hexdigest())


def string_to_sign_of_digest(
    method: str, path: str, raw_query: str, timestamp: str, request_id: str, body_sha256: str
) -> bytes:
    """:func:`string_to_sign` from the body's hex SHA-256 (a server hashes a body as it streams in)."""
    lines = (method.upper(), canonical_path(path), canonical_query(raw_query), timestamp, request_id, body_sha256)
    return "\n".join(lines).encode("utf-8")


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(
    secret: str | bytes, method: str, path: str, raw_query: str, timestamp: str, request_id: str, body: bytes
) -> str:
    """``X-Signature``: lower-case hex HMAC-SHA256 of :func:`string_to_sign` under the API secret."""
    message = string_to_sign(method, path, raw_query, timestamp, request_id, body)
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    signature: str,
    method: str,
    path: str,
    raw_query: str,
    timestamp: str,
    request_id: str,
    body: bytes,
) -> bool:
    """True iff ``signature`` (hex, any case) is the request's signature; constant-time comparison."""
    body_sha256 = hashlib.sha256(body).hexdigest()
    return verify_signature_of_digest(secret, signature, method, path, raw_query, timestamp, request_id, body_sha256)


def verify_signature_of_digest(
    secret: str | bytes,
    signature: str,
    method: str,
    path: str,
    raw_query: str,
    timestamp: str,
    request_id: str,
    body_sha256: str,
) -> bool:
    """:func:`verify_signature` from the body's hex SHA-256 instead of the body."""
    message = string_to_sign_of_digest(method, path, raw_query, timestamp, request_id, body_sha256)
    expected = hmac.new(_key(secret), message, hashlib.sha256).hexdigest().encode("ascii")
    provided = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, provided)


def request_fingerprint(method: str, path: str, raw_query: str, body: bytes) -> str:
    """Hex SHA-256 identifying a request's content, for Idempotency-Key payload comparison.

    Covers method, canonical path, canonical query and the body hash (not the per-attempt headers).
    """
    return fingerprint_of_digest(method, path, raw_query, hashlib.sha256(body).hexdigest())


def fingerprint_of_digest(method: str, path: str, raw_query: str, body_sha256: str) -> str:
    """:func:`request_fingerprint` from the body's hex SHA-256 instead of the body."""
    lines = (method.upper(), canonical_path(path), canonical_query(raw_query), body_sha256)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
