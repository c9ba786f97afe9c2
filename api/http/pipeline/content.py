"""The body's content, checked in admission (:mod:`.admission`) before a handler decodes it.

A handler that takes a JSON body (a ``data`` parameter, ``JSONBody[...]``) gets one only if:

* it is not empty when the parameter is required (400 ``VALIDATION_ERROR`` saying a JSON body is
  required, instead of the decoder's bare ``'data'``);
* its ``Content-Type`` is a JSON media type (415 ``UNSUPPORTED_MEDIA_TYPE``, docs/http.md);
* it passes :func:`api.http.strict_json.check_json`: nesting depth, duplicate member names,
  well-formed UTF-8 JSON (400 ``MALFORMED_JSON``).

It runs after the rate limit, so these refusals carry the rate-limit headers like any other answer
to an authenticated partner. The body is the one :mod:`.body` read and verified (kept in the scope's
state for the handler already).
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from litestar.handlers import HTTPRouteHandler
from litestar.types import Scope

from api.http.context import header
from api.http.errors import ApiError
from api.http.strict_json import check_json, require_json_media_type

BODY = "ledger.body"
DOCUMENT = "ledger.json"
DATA = "data"


@cache
def _json_body(handler: HTTPRouteHandler) -> tuple[bool, bool]:
    """(takes a JSON body, the body is required), from the handler's signature (computed once)."""
    field = handler.parsed_fn_signature.parameters.get(DATA)
    if field is None:
        return False, False
    return True, not (field.has_default or field.is_optional)


def check_content(scope: Scope) -> None:
    """Refuse a body the handler could not take (module docstring); nothing for other handlers."""
    takes_json, required = _json_body(scope["route_handler"])
    if not takes_json:
        return
    body: bytes = scope["state"].get(BODY, b"")
    if not body:
        if required:
            raise ApiError("VALIDATION_ERROR", "this endpoint needs a JSON body; the body is empty", field="body")
        return
    require_json_media_type(header(scope, b"content-type"))
    scope["state"][DOCUMENT] = check_json(body)


def amount_as_sent(scope: Scope, name: str, decoded: Decimal) -> str | Decimal:
    """The body's top-level ``name`` as the client wrote it when it is a JSON string, else ``decoded``.

    msgspec turns a string into a ``Decimal`` with Python's constructor, which takes surrounding spaces
    and any script's digits (``" 10.00"``, ``"\u0661\u0660"``): the domain's plain-decimal rule
    (:func:`ledger_core.shared.money.parse_amount`, ASCII digits only) must see the text itself. A JSON
    number is ASCII by RFC 8259's grammar, so its ``Decimal`` is passed on."""
    document = scope["state"].get(DOCUMENT)
    raw = document.get(name) if isinstance(document, dict) else None
    return raw if isinstance(raw, str) else decoded


def kept_body(state: dict[str, Any], body: bytes) -> None:
    """Keep the verified body for :func:`check_content`."""
    state[BODY] = body
