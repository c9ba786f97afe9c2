"""Per-request values kept in the ASGI scope's ``state``: the request id, the partner, the start time.

The edge (:mod:`api.http.observability`) sets the request id first, so every response, the error
envelope and every log line of a request carry the same id. The request pipeline
(:mod:`api.http.pipeline`) records the partner once it has admitted the request, for the access log.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

REQUEST_ID = "ledger.request_id"
PARTNER = "ledger.partner"
STARTED = "ledger.started"
CLIENT = "ledger.client"
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def _state(scope: Any) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def header(scope: Any, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes) in an ASGI scope, decoded as Latin-1."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


SECURITY_HEADERS = (b"authorization", b"x-api-key", b"x-request-id", b"x-timestamp", b"x-signature")
"""The headers that authenticate a request: each may be sent once."""


def repeated_header(scope: Any, names: tuple[bytes, ...] = SECURITY_HEADERS) -> str | None:
    """The first of ``names`` (lower-case bytes) the request carries more than once, else None.

    A repeated credential is ambiguous (which one was signed? which one did a proxy add?), so the
    server refuses it rather than picking one (RFC 9110 section 5.3: these are not list-valued fields)."""
    seen: set[bytes] = set()
    for key, _ in scope.get("headers", ()):
        name = bytes(key).lower()
        if name in names:
            if name in seen:
                return name.decode("latin-1")
            seen.add(name)
    return None


def assign_request_id(scope: Any) -> str:
    """The client's ``X-Request-ID`` when it is a UUID, else a fresh UUID4; stored in the scope."""
    given = header(scope, b"x-request-id")
    request_id = given.strip() if given is not None and _UUID.fullmatch(given.strip()) else str(uuid.uuid4())
    _state(scope)[REQUEST_ID] = request_id
    return request_id


def request_id_of(scope: Any) -> str:
    """The request id assigned to this request (assigning one if the edge middleware did not run)."""
    value = _state(scope).get(REQUEST_ID)
    return value if isinstance(value, str) else assign_request_id(scope)


def raw_path(scope: Any) -> str:
    """The path as sent (ASGI ``raw_path``, without any query string some test servers leave in it)."""
    raw = scope.get("raw_path")
    text = bytes(raw).decode("latin-1") if raw else str(scope["path"])
    return text.split("?", 1)[0]


def query_string(scope: Any) -> str:
    """The raw query string, without ``?`` (Latin-1)."""
    return bytes(scope.get("query_string", b"")).decode("latin-1")


def client_address(scope: Any) -> str:
    """The client's address: as :mod:`api.http.proxies` resolved it (trusted proxies' ``X-Forwarded-For``),
    else the TCP peer the ASGI server reports (``unknown`` when it does not)."""
    resolved = _state(scope).get(CLIENT)
    if isinstance(resolved, str):
        return resolved
    client = scope.get("client") or ("unknown", 0)
    return str(client[0])


def set_partner(scope: Any, partner_id: str) -> None:
    _state(scope)[PARTNER] = partner_id


def partner_of(scope: Any) -> str | None:
    value = _state(scope).get(PARTNER)
    return value if isinstance(value, str) else None
