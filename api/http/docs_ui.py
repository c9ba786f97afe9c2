"""The OpenAPI UI, served entirely by this server: it works without internet.

Swagger UI (``swagger-ui-dist`` :data:`SWAGGER_UI_VERSION`, Apache-2.0: ``static/swagger-ui/LICENSE`` and
``NOTICE``) is vendored under ``api/http/static/swagger-ui/`` and served at :data:`STATIC_PATH`; the page
(``/schema`` and ``/schema/swagger``) loads the OpenAPI document from ``/schema/openapi.json`` instead of
inlining it, and turns off the online validator badge (``validatorUrl: null``). Litestar's stock plugins
point at CDNs (the unpinned ``@scalar/api-reference@latest`` among them), hence this one.

To upgrade: ``npm pack swagger-ui-dist@X``, copy ``swagger-ui-bundle.js``, ``swagger-ui.css`` (without its
``sourceMappingURL`` line), ``LICENSE``, ``NOTICE``, ``favicon-32x32.png`` and the bundle's ``.LICENSE.txt``,
then change :data:`SWAGGER_UI_VERSION` (docs/http.md names it too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

SWAGGER_UI_VERSION = "5.36.0"
STATIC_DIR = Path(__file__).with_name("static")
STATIC_PATH = "/docs/static"
_ASSETS = f"{STATIC_PATH}/swagger-ui"


class OfflineSwaggerUI(SwaggerRenderPlugin):
    """Swagger UI from the vendored assets, reading the document by URL."""

    def __init__(self, path: str | list[str]) -> None:
        super().__init__(
            version=SWAGGER_UI_VERSION,
            js_url=f"{_ASSETS}/swagger-ui-bundle.js",
            css_url=f"{_ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{_ASSETS}/swagger-ui-bundle.js",  # unused: the page uses no preset
            path=path,
            favicon=f'<link rel="icon" type="image/png" href="{_ASSETS}/favicon-32x32.png">',
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema.get("info", {}).get("title", "API"))
        document = self.get_openapi_json_route(request)
        return f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{title}</title>
    {self.favicon}
    <link rel="stylesheet" href="{self.css_url}">
    {self.style}
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{self.js_url}"></script>
    <script>
      window.ui = SwaggerUIBundle({{
        url: "{document}",
        dom_id: "#swagger-ui",
        deepLinking: true,
        validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout"
      }});
    </script>
  </body>
</html>
""".encode()


def static_router() -> Router:
    """The vendored UI assets at :data:`STATIC_PATH` (outside the OpenAPI document)."""
    return create_static_files_router(
        path=STATIC_PATH, directories=[STATIC_DIR], include_in_schema=False, name="docs-static"
    )
