"""A partner's theme as the browser gets it: the stylesheet, its files, and the preview page (issue 17 item 3).

* ``GET /portal/{partner}/theme.css?v=<version>``: the ``--pq-*`` custom properties of ``pages.css`` (and an
  ``@font-face`` when a WOFF2 was uploaded); nothing else, so a theme can restyle colours and font only.
  ``version`` is a digest of the stylesheet's text: the versioned URL (:func:`theme_href`, what pages link)
  is cached for a year (``immutable``); any other ``v`` (or none) answers the current text with ``no-cache``.
* ``GET /portal/{partner}/theme-files/{sha256}``: a logo or font of the partner's *current* theme (any
  other digest is 404: an upload is public only once applied), cached for a year by its digest. SVG is
  served with a sandboxing ``Content-Security-Policy`` besides the upload-time refusal rules.
* ``GET /portal/{partner}/theme-preview[?primary=%23RRGGBB]``: buttons, links, text, a form field and the
  logo in the theme, with the measured contrast ratios, for operators to check a theme; with ``primary``, a
  candidate colour over the current theme *before* applying it (or the refusal ``set`` would answer, with
  its suggestion). A page: not in the OpenAPI document.

Every answer carries ``X-Content-Type-Options: nosniff``; no inline style or script is needed, so pages
can run under a strict ``Content-Security-Policy``. Theme text values come from validated settings only
(a ``#rrggbb`` colour, an allow-listed font stack), so no partner-supplied text reaches the CSS.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Template

from api.http.pages.branding import Branding, partner_branding
from api.http.pages.theme_css import stylesheet, stylesheet_version
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.contrast import WHITE, Rgb, contrast_ratio
from ledger_core.partners.theme import FontStack, ThemeSettings, check_primary

YEAR = 31_536_000
IMMUTABLE = f"public, max-age={YEAR}, immutable"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
PUBLIC_ASSET = {**NOSNIFF, "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}
"""Theme files and stylesheet are public and carry no credentials: the widget may load them from a partner page."""
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'self'"
)
PartnerId = Annotated[str, PathParameter(description="The partner id.", max_length=64)]
FileDigest = Annotated[str, PathParameter(description="The file's SHA-256 (lower-case hex).", max_length=64)]


CandidatePrimary = Annotated[
    str | None, QueryParameter(description="A primary colour to preview, not applied (#RRGGBB).", max_length=16)
]


@dataclass(frozen=True, slots=True)
class Preview:
    """What the preview page shows: the settings in effect on it, whether they are a candidate, the refusal."""

    settings: ThemeSettings | None
    candidate: bool = False
    refusal: dict[str, Any] | None = None

    @property
    def ratios(self) -> dict[str, str] | None:
        """Primary on white (links) and text on primary (header, buttons), as ``9.50:1``."""
        if self.settings is None:
            return None
        primary, on_primary = Rgb.parse(self.settings.primary), Rgb.parse(self.settings.on_primary)
        if primary is None or on_primary is None:
            return None
        return {
            "primary_on_white": f"{contrast_ratio(primary, WHITE):.2f}:1",
            "text_on_primary": f"{contrast_ratio(on_primary, primary):.2f}:1",
        }


def candidate_settings(current: ThemeSettings | None, primary: str) -> ThemeSettings:
    """The current theme (or the defaults) with another primary colour; raises what ``set`` would raise."""
    colour, on_primary = check_primary(primary)
    base = current or ThemeSettings(colour.hex, on_primary.hex, None, FontStack.SYSTEM)
    return replace(base, primary=colour.hex, on_primary=on_primary.hex)


def candidate_href(partner_id: str, settings: ThemeSettings) -> str:
    """The stylesheet of a candidate primary (never cached: it is not the partner's theme)."""
    return f"/portal/{partner_id}/theme.css?primary={quote(settings.primary)}"


def preview_of(current: ThemeSettings | None, primary: str | None) -> Preview:
    if primary is None:
        return Preview(current)
    try:
        return Preview(candidate_settings(current, primary), candidate=True)
    except InvalidCommand as refused:
        return Preview(current, refusal={"message": refused.message, **refused.details})


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
        primary: CandidatePrimary = None,
    ) -> Response[str]:
        settings = await run_blocking(_current, runtime, partner)
        if primary is not None:
            settings = candidate_settings(settings, primary)
        text = "/* No theme: the pages.css defaults apply. */\n" if settings is None else stylesheet(partner, settings)
        current = primary is None and v is not None and v == stylesheet_version(text)
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
    async def preview(
        self, partner: PartnerId, runtime: NamedDependency[Runtime], primary: CandidatePrimary = None
    ) -> Template:
        """The partner's theme, or with ``?primary=`` a candidate colour over it (or why it would be refused)."""

        def read() -> tuple[Branding, ThemeSettings | None]:
            return partner_branding(runtime.ledger, partner), runtime.ledger.themes.current(partner)

        branding, current = await run_blocking(read)
        shown = preview_of(current, primary)
        href = candidate_href(partner, shown.settings) if shown.candidate and shown.settings else branding.theme_href
        return Template(
            template_name="theme_preview.html",
            context={"branding": branding, "theme_href": href, "preview": shown, "tried": primary},
            headers={**NOSNIFF, "Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"},
        )


def _current(runtime: Runtime, partner_id: str) -> ThemeSettings | None:
    runtime.ledger.partners.get(partner_id)  # an unknown partner is 404, not an empty stylesheet
    return runtime.ledger.themes.current(partner_id)
