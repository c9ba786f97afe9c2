"""``/docs``: the documentation this server serves itself (the ``documentation`` link of every error).

``/docs/errors`` is the error reference, rendered from the one status map (:data:`api.http.errors.ERROR_CODES`)
and the example envelopes of :mod:`api.http.openapi_examples`: one section per code, its anchor the code
itself (``/docs/errors#CLAIM_NOT_FOUND``). ``/docs`` links it with the OpenAPI document and its UIs. The
pages are self-contained (inline style, no script, no external URL), so they work without internet.
"""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.enums import MediaType

from api.http.errors import ERROR_CODES
from api.http.openapi_examples import error_example

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
    "code,pre{font-family:ui-monospace,monospace}pre{background:#f4f4f4;padding:.75rem;overflow-x:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
    "section{border-top:1px solid #ddd;margin-top:1.5rem}"
)
LINKS = (
    ("/schema", "API reference (interactive: Swagger UI)"),
    ("/schema/openapi.json", "OpenAPI 3.1 document (JSON)"),
    ("/docs/errors", "Error codes"),
)


def _page(title: str, body: str) -> bytes:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    ).encode()


@lru_cache(maxsize=8)
def error_reference_html(origin: str) -> bytes:
    """The error reference page; its example envelopes link to ``origin`` (the server as the client named it)."""
    rows = "".join(
        f'<tr><td><a href="#{code}"><code>{code}</code></a></td><td>{status}</td><td>{escape(meaning)}</td></tr>'
        for code, (status, meaning) in sorted(ERROR_CODES.items(), key=lambda item: (item[1][0], item[0]))
    )
    sections = "".join(
        f'<section id="{code}"><h2><code>{code}</code></h2><p>HTTP {status}. {escape(meaning)}</p>'
        f"<pre>{escape(json.dumps(error_example(code, origin), indent=2))}</pre></section>"
        for code, (status, meaning) in sorted(ERROR_CODES.items())
    )
    intro = (
        "<h1>Error codes</h1><p>Every error answers with this envelope; <code>details</code> carries the evidence."
        " A validation error names the field as sent (<code>field</code>: the wire name, a dotted path with"
        " <code>[index]</code>) and where it was sent (<code>source</code>: body, query, path or header)."
        ' <a href="/docs">All documentation</a>.</p>'
    )
    table = f"<table><tr><th>code</th><th>status</th><th>meaning</th></tr>{rows}</table>"
    return _page("Proveniq Ledger: error codes", intro + table + sections)


class DocsController(Controller):
    path = "/docs"
    include_in_schema = False

    @get("/", media_type=MediaType.HTML, sync_to_thread=False)
    def index(self) -> Response[bytes]:
        items = "".join(f'<li><a href="{href}">{escape(label)}</a></li>' for href, label in LINKS)
        body = f"<h1>Proveniq Ledger documentation</h1><ul>{items}</ul>"
        return Response(_page("Proveniq Ledger documentation", body), media_type=MediaType.HTML)

    @get("/errors", media_type=MediaType.HTML, sync_to_thread=False)
    def errors(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return Response(error_reference_html(str(request.base_url).rstrip("/")), media_type=MediaType.HTML)
