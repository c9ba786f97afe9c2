"""Examples and descriptions of the OpenAPI document, from one checked-in catalogue.

Litestar derives the schemas from the msgspec shapes, which carry no examples (they are the SDK's too,
and stay plain). :data:`CATALOGUE` (``openapi_examples.json`` beside this module) adds, per component
schema, a description, field descriptions and one example (``common_fields`` describes a field name used
alike in many shapes, such as ``partner_member_id``, once); per operation (``"POST /api/v1/claims"``),
request and response examples the schemas' own cannot give (raw bodies, text, a 202 whose proof is
null); per error code, the details of its example envelope.

:func:`apply_examples` puts them in the document: each schema gets ``examples``; each operation's
request body and responses get ``example`` (from the operation's entry, else from the schema its
content refers to); error responses get one example per code (:func:`error_examples`).

A new route adds its shapes' entries under ``schemas`` (and an ``operations`` entry when its body or
response is not a component schema): ``tests/unit/api_app/test_openapi_examples.py`` fails on any
schema or operation without examples, and on any example that does not validate against its schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from api.http.errors import ERROR_CODES

CATALOGUE = Path(__file__).with_name("openapi_examples.json")
EXAMPLE_ORIGIN = "http://127.0.0.1:8000"
"""The server origin the examples show (``make serve``'s)."""
EXAMPLE_REQUEST_ID = "0b6e8c1e-5a4f-4c1e-9a4a-6f1d2c3b4a59"
_METHODS = ("get", "post", "put", "patch", "delete")


@cache
def catalogue() -> dict[str, Any]:
    """The checked-in catalogue (read once)."""
    loaded: dict[str, Any] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return loaded


def error_example(code: str, origin: str = EXAMPLE_ORIGIN) -> dict[str, Any]:
    """The seed 7.1 envelope of ``code`` as a server at ``origin`` writes it."""
    entry = catalogue().get("errors", {}).get(code, {})
    return {
        "error": {
            "code": code,
            "message": entry.get("message", ERROR_CODES[code][1]),
            "details": entry.get("details", {}),
            "requestId": EXAMPLE_REQUEST_ID,
            "documentation": f"{origin}/docs/errors#{code}",
        }
    }


def error_examples(codes: Iterable[str]) -> dict[str, Any]:
    """OpenAPI ``examples`` (one per code) of an error response."""
    return {code: {"summary": ERROR_CODES[code][1], "value": error_example(code)} for code in codes}


def apply_examples(document: dict[str, Any]) -> None:
    """Add the catalogue's descriptions and examples to ``document`` (see the module docstring)."""
    entries = catalogue()
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    for name, entry in entries.get("schemas", {}).items():
        schema = schemas.get(name)
        if schema is None:
            continue
        if "description" in entry:
            schema.setdefault("description", entry["description"])
        properties = schema.get("properties", {})
        for field, description in entry.get("fields", {}).items():
            if field in properties:
                properties[field].setdefault("description", description)
        if "example" in entry:
            schema["examples"] = [entry["example"]]
    common = entries.get("common_fields", {})
    for schema in schemas.values():  # a field name used alike in many shapes is described once
        for field, spec in schema.get("properties", {}).items():
            if field in common:
                spec.setdefault("description", common[field])
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                overrides = entries.get("operations", {}).get(f"{method.upper()} {path}", {})
                _operation_examples(operation, overrides)


def _operation_examples(operation: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    body = operation.get("requestBody")
    if body is not None:
        _content_examples(body.get("content", {}), overrides.get("request", {}))
    for status, response in operation.get("responses", {}).items():
        if "$ref" not in response and response.get("content"):  # shared error responses carry their own examples
            response["content"] = dict(response["content"])  # Litestar shares one content object between statuses
            _content_examples(response["content"], overrides.get("responses", {}).get(status, {}))


def _content_examples(content: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """The operation's own example where the catalogue has one; else the content shows its schema's examples
    (a ``$ref`` to a component schema: not copied, the document stays small)."""
    for media_type, media in list(content.items()):
        if media_type in overrides:
            content[media_type] = {**media, "example": overrides[media_type]}
