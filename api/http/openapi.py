"""Completing the generated OpenAPI 3.1 document: errors, headers and bodies Litestar cannot infer.

Litestar derives paths, parameters and schemas from the handlers. :func:`finish_openapi` then edits
the generated document (once, before it is first served) so that it is complete:

* every error status an operation can answer, each with the seed's ``ErrorResponse`` envelope and the
  codes of :data:`api.http.errors.ERROR_CODES` that use it (Litestar's own 400 schema is replaced);
* the response headers: ``X-Request-ID`` everywhere; rate-limit headers on ``/api/v1`` and the token
  endpoint; ``Retry-After`` on 409/429/503; ``Location`` on creations; version lifecycle headers;
* typed schemas for the signed request headers and ``Idempotency-Key``;
* the request bodies read by hand: document uploads (raw bytes or multipart), token requests
  (form or JSON), SSO rosters (CSV) and theme logo and font files;
* redirects (3xx, e.g. the SSO login endpoints) carry ``Location`` and no body.

:class:`DecimalSchemaPlugin` (registered on the app) types every ``Decimal`` of a request shape as
``string | number``: the shapes (``api.client.schemas``) are plain msgspec, shared with the SDK.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from api.client.schemas.common import ErrorResponse, TokenRequest
from api.http.errors import ERROR_CODES
from api.http.openapi_examples import EXAMPLE_REQUEST_ID, apply_examples, error_examples
from api.http.sso_pages import login_failure_page
from api.settings import Settings

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator  # the type Litestar's plugin API names

REF = "#/components/schemas/{name}"
_STRING: dict[str, Any] = {"type": "string"}
_RATE_HEADERS = {
    "X-RateLimit-Limit": ("integer", "Requests allowed in the binding window."),
    "X-RateLimit-Remaining": ("integer", "Requests left in the binding window."),
    "X-RateLimit-Reset": ("integer", "Unix time (seconds) when the binding window resets."),
    "RateLimit-Policy": ("string", 'IETF draft, e.g. "minute";q=1000;w=60, "burst";q=100;w=1'),
    "RateLimit": ("string", 'IETF draft, e.g. "minute";r=987;t=42'),
}
_VERSION_HEADERS = {
    "Deprecation": ("string", "RFC 9745, @<unix seconds>: present once this API version is deprecated."),
    "Sunset": ("string", "RFC 8594 HTTP-date: present when this API version has a retirement date."),
    "Link": ("string", 'rel="deprecation" / rel="sunset": the migration guide of a deprecated version.'),
}
_REDIRECTS = ("301", "302", "303", "307", "308")
_HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {"type": "string", "format": "uuid"},
    "X-Timestamp": {"type": "string", "format": "date-time"},
    "Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 255},
}


class DecimalSchemaPlugin(OpenAPISchemaPlugin):
    """A ``Decimal`` is sent as a JSON number or a decimal string (msgspec decodes both exactly).

    The field's own description and examples (its ``msgspec.Meta``) are added by Litestar as usual.
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return field_definition.type_ is Decimal

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        return Schema(type=[OpenAPIType.STRING, OpenAPIType.NUMBER])


def _header(kind: str, description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


def _codes_by_status() -> dict[int, list[str]]:
    table: dict[int, list[str]] = defaultdict(list)
    for code, (status, _) in ERROR_CODES.items():
        table[status].append(code)
    return table


def _error_statuses(path: str, method: str) -> list[int]:
    if path == "/oauth/token":
        return [400, 401, 413, 429, 500, 503]
    if path.startswith("/sso/"):  # browser endpoints of single sign-on (docs/sso.md)
        return [400, 401, 403, 404, 500, 503] + ([413, 415] if method == "post" else [])
    if path.startswith("/auditor/log/"):  # the public log routes of the auditor console (docs/portal.md)
        return [400, 404, 429, 500, 503]
    if path == "/checkpoint" or path.startswith("/tile/"):  # C2SP tlog-tiles: any bad path is 404 (tiles.py)
        return [404, 500]
    if not path.startswith("/api/"):
        return [500]
    statuses = [400, 401, 403, 404, 410, 429, 500, 503]
    if method in {"post", "put", "patch"}:
        statuses += [409, 413, 415, 422]
    elif path.endswith("/proof") or "/proofs/" in path:
        statuses.append(409)
    return sorted(statuses)


_INT64_MAX = 2**63 - 1


def _exact_integer_bounds(schema: dict[str, Any]) -> None:
    """Integer bounds as integers: Litestar writes a path parameter's ``ge``/``le`` as floats, and the float
    nearest 2^63 - 1 is 2^63, a bound one past what the server accepts (signed 64-bit storage)."""
    if schema.get("type") != "integer":
        return
    for key in ("minimum", "maximum"):
        bound = schema.get(key)
        if isinstance(bound, float) and bound.is_integer():
            schema[key] = min(int(bound), _INT64_MAX)


def finish_openapi(app: Litestar, settings: Settings) -> None:
    """Edit the app's OpenAPI document in place (see the module docstring)."""
    document: dict[str, Any] = app.plugins.get("OpenAPIPlugin").provide_openapi_schema()
    _, components = msgspec.json.schema_components([ErrorResponse, TokenRequest], ref_template=REF)
    parts = document.setdefault("components", {})
    parts.setdefault("schemas", {}).update(components)
    parts["headers"] = _header_components()
    parts["responses"] = {}
    by_status = _codes_by_status()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                _finish_operation(path, method, operation, by_status, parts["responses"], settings)
    _request_bodies(document)
    apply_examples(document)


def _header_components() -> dict[str, Any]:
    """Every response header once, in ``components.headers`` (operations refer to them: no copies)."""
    headers = {
        "X-Request-ID": _header("string", "The request's id (the client's X-Request-ID when it was a UUID)."),
        "Retry-After": _header("integer", "Seconds to wait before retrying."),
        "Location": _header("string", "The resource's URL (a redirect's target)."),
        "Idempotent-Replayed": _header("string", "true when this is a stored Idempotency-Key response."),
        "WWW-Authenticate": _header("string", "Bearer (API calls) or Basic (token endpoint) challenge."),
        "X-API-Key-Expires": _header(
            "string", "RFC 3339: when the X-API-Key used stops working (maximum key age or rotation overlap)."
        ),
    }
    for name, (kind, description) in {**_RATE_HEADERS, **_VERSION_HEADERS}.items():
        headers[name] = _header(kind, description)
    return headers


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


_SSO_PAGES = {
    403: (
        " A refused sign-in (`SSO_LOGIN_REFUSED`) answers an HTML page instead (docs/sso.md, failure table).",
        "signature_invalid",
    ),
    503: (" An OIDC identity provider that did not answer gives an HTML page (`idp_unavailable`).", "idp_unavailable"),
}


def _error_response(
    status: int, family: str, codes: list[str], path: str, method: str, shared: dict[str, Any]
) -> dict[str, str]:
    """A reference to the shared error response of ``status`` for this family of paths (made once)."""
    name = f"{family}Error{status}"
    if name not in shared:
        response: dict[str, Any] = {
            "description": "Error: " + ", ".join(f"`{code}` ({ERROR_CODES[code][1]})" for code in codes),
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(name="ErrorResponse")},
                    "examples": error_examples(codes),
                }
            },
        }
        if family == "Sso" and status in _SSO_PAGES:  # a browser is waiting: the refusal is a page
            description, reason = _SSO_PAGES[status]
            page = login_failure_page(reason, EXAMPLE_REQUEST_ID).decode()
            response["description"] += description
            response["content"]["text/html"] = {"schema": {"type": "string"}, "example": page}
        _response_headers(path, method, status, response, family not in ("Plain", "Sso"))
        shared[name] = response
    return {"$ref": f"#/components/responses/{name}"}


def _finish_operation(
    path: str,
    method: str,
    operation: dict[str, Any],
    by_status: dict[int, list[str]],
    shared: dict[str, Any],
    settings: Settings,
) -> None:
    versioned = path.startswith("/api/")
    family = (
        "Api" if versioned else "Token" if path == "/oauth/token" else "Sso" if path.startswith("/sso/") else "Plain"
    )
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") in _HEADER_SCHEMAS:
            parameter["schema"] = dict(_HEADER_SCHEMAS[parameter["name"]])
        _exact_integer_bounds(parameter.get("schema", {}))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if path == "/api/v1/claims" and method == "post":
        body = responses.get("201", {}).get("content")
        responses["200"] = {"description": "Identical resubmission: the existing claim.", "content": body}
        responses["202"] = {"description": "Recorded; not sealed within the wait (proof is null).", "content": body}
    if path.endswith("/verify"):
        body = responses.get("200", {}).get("content")
        responses["202"] = {"description": "Recorded; not sealed within the wait (proof is null).", "content": body}
    if path == "/api/v1/documents" and method == "post":
        body = responses.get("201", {}).get("content")
        responses["200"] = {"description": "Already registered with the same attributes.", "content": body}
    if path == "/api/v1/members" and method == "post":
        body = responses.get("201", {}).get("content")
        responses["200"] = {"description": "Updated (changed names the fields) or unchanged.", "content": body}
    if path == "/ready":
        responses["503"] = {"description": "Not ready (same body).", "content": responses.get("200", {}).get("content")}
    for code, response in responses.items():
        media = response.get("content") or {}
        if code in _REDIRECTS or all(entry.get("schema") == {"type": "null"} for entry in media.values()):
            response.pop("content", None)  # a redirect, or a Response[None]: no body (Litestar writes a JSON one)
        _response_headers(path, method, int(code), response, versioned or path == "/oauth/token")
    if 400 not in _error_statuses(path, method):
        responses.pop("400", None)  # Litestar's parameter-validation 400, which these paths never answer
    for status in _error_statuses(path, method):  # Litestar's own 400 schema is replaced
        responses[str(status)] = _error_response(status, family, by_status.get(status, []), path, method, shared)
    if not versioned:
        operation.pop("security", None)
    operation["description"] = operation.get("description") or operation.get("summary", "")
    operation.setdefault("externalDocs", {"url": settings.http.docs_url})


def _response_headers(path: str, method: str, status: int, response: dict[str, Any], limited: bool) -> None:
    names = ["X-Request-ID"]
    if limited and status not in (413,):
        names += list(_RATE_HEADERS)
    if status in (409, 429, 503):
        names.append("Retry-After")
    if status in (201, 202, *map(int, _REDIRECTS)) or (status == 200 and method == "post" and path.startswith("/api/")):
        names.append("Location")
    if status == 200 and method == "post" and path.startswith("/api/"):
        names.append("Idempotent-Replayed")
    if path.startswith("/api/"):
        names += list(_VERSION_HEADERS)
        if limited and status < 400:
            names.append("X-API-Key-Expires")
    if status == 401:
        names.append("WWW-Authenticate")
    response["headers"] = {name: _header_ref(name) for name in names}


_THEME_FILES = {"logo": ("image/png", "image/webp", "image/svg+xml"), "font": ("font/woff2",)}


def _request_bodies(document: dict[str, Any]) -> None:
    paths = document.get("paths", {})
    upload = paths.get("/api/v1/documents", {}).get("post")
    if upload is not None:
        upload["requestBody"] = {
            "required": True,
            "description": "The document: raw bytes (Content-Type = its media type), or multipart/form-data.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "image/*": {"schema": {"type": "string", "format": "binary"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "type": {"type": "string", "enum": ["photo", "pdf", "form"]},
                            "metadata": {**_STRING, "description": "JSON object of strings."},
                        },
                    }
                },
            },
        }
    roster = paths.get("/api/v1/operations/sso/{partner}/roster", {}).get("post")
    if roster is not None:
        roster["requestBody"] = {
            "required": True,
            "description": "The users who remain active, CSV with a header naming the id column (docs/sso.md).",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    for kind, content in _THEME_FILES.items():
        theme_file = paths.get(f"/api/v1/operations/partners/{{partner}}/theme/{kind}", {}).get("post")
        if theme_file is not None:
            theme_file["requestBody"] = {
                "required": True,
                "description": f"The {kind} file's bytes; Content-Type its media type (docs/portal.md, Theming).",
                "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in content},
            }
    token = paths.get("/oauth/token", {}).get("post")
    if token is not None:
        schema = {"$ref": REF.format(name="TokenRequest")}
        token["requestBody"] = {
            "required": True,
            "description": "RFC 6749 4.4.2; client credentials here or in HTTP Basic.",
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            },
        }
