"""A partner's theme as the browser gets it: the stylesheet, its files, and the preview page (issue 17 item 3).

* ``GET /portal/{partner}/theme.css?v=<version>``: the ``--pq-*`` custom properties of ``pages.css`` (and an
  ``@font-face`` when a WOFF2 was uploaded); nothing else, so a theme can restyle colours and font only.
  ``version`` is a digest of the stylesheet's text: the versioned URL (:func:`theme_href`, what pages link)
  is cached for a year (``immutable``); any other ``v`` (or none) answers the current text with ``no-cache``.
* ``GET /portal/{partner}/theme-files/{sha256}``: a logo or font of the partner's *current* theme (any
  other digest is 404: an upload is public only once applied), cached for a year by its digest. SVG is
  served with a sandboxing ``Content-Security-Policy`` besides the upload-time refusal rules.
* ``GET /portal/{partner}/theme-preview``: buttons, links, text, a form field and the logo in the theme,
  with the measured contrast ratios, for operators to check a theme (page, not in the OpenAPI document).

Every answer carries ``X-Content-Type-Options: nosniff``; no inline style or script is needed, so pages
can run under a strict ``Content-Security-Policy``. Theme text values come from validated settings only
(a ``#rrggbb`` colour, an allow-listed font stack), so no partner-supplied text reaches the CSS.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Template

from api.http.pages.branding import Branding, partner_branding
from api.http.pages.theme_css import stylesheet, stylesheet_version
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.partners.contrast import WHITE, Rgb, contrast_ratio
from ledger_core.partners.theme import ThemeSettings

YEAR = 31_536_000
IMMUTABLE = f"public, max-age={YEAR}, immutable"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
PUBLIC_ASSET = {**NOSNIFF, "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}
"""Theme files and stylesheet are public and carry no credentials: the widget may load them from a partner page."""
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'self'"
)
PartnerId = Annotated[str, PathParameter(description="The partner id.", max_length=64)]
FileDigest = Annotated[str, PathParameter(description="The file's SHA-256 (lower-case hex).", max_length=64)]


def _ratio(first: str, second: Rgb) -> str:
    colour = Rgb.parse(first)
    return "n/a" if colour is None else f"{contrast_ratio(colour, second):.2f}:1"


class ThemePagesController(Controller):
    """The theme's stylesheet, files and preview page (outside the OpenAPI document, like every page)."""

    path = "/portal"
    include_in_schema = False

    @get("/{partner:str}/theme.css", name="theme-stylesheet")
    async def stylesheet(
        self,
        partner: PartnerId,
        runtime: NamedDependency[Runtime],
        v: Annotated[str | None, QueryParameter(description="The stylesheet version.", max_length=64)] = None,
    ) -> Response[str]:
        settings = await run_blocking(_current, runtime, partner)
        text = "/* No theme: the pages.css defaults apply. */\n" if settings is None else stylesheet(partner, settings)
        current = v is not None and v == stylesheet_version(text)
        headers = {**PUBLIC_ASSET, "Cache-Control": IMMUTABLE if current else "no-cache"}
        return Response(text, media_type="text/css; charset=utf-8", headers=headers)

    @get("/{partner:str}/theme-files/{sha256:str}", name="theme-file")
    async def file(self, partner: PartnerId, sha256: FileDigest, runtime: NamedDependency[Runtime]) -> Response[bytes]:
        media_type, data = await run_blocking(runtime.ledger.themes.asset, partner, sha256)
        headers = {**PUBLIC_ASSET, "Cache-Control": IMMUTABLE, "ETag": f'"{sha256}"'}
        if media_type == "image/svg+xml":
            headers["Content-Security-Policy"] = SVG_POLICY
        return Response(data, media_type=media_type, headers=headers)

    @get("/{partner:str}/theme-preview", name="theme-preview")
    async def preview(self, partner: PartnerId, runtime: NamedDependency[Runtime]) -> Template:
        def read() -> tuple[Branding, ThemeSettings | None]:
            return partner_branding(runtime.ledger, partner), runtime.ledger.themes.current(partner)

        branding, settings = await run_blocking(read)
        ratios = None
        if settings is not None:
            primary = Rgb.parse(settings.primary) or WHITE
            ratios = {
                "primary_on_white": _ratio(settings.primary, WHITE),
                "text_on_primary": _ratio(settings.on_primary, primary),
            }
        return Template(
            template_name="theme_preview.html",
            context={"branding": branding, "theme_href": branding.theme_href, "settings": settings, "ratios": ratios},
            headers={**NOSNIFF, "Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"},
        )


def _current(runtime: Runtime, partner_id: str) -> ThemeSettings | None:
    runtime.ledger.partners.get(partner_id)  # an unknown partner is 404, not an empty stylesheet
    return runtime.ledger.themes.current(partner_id)
