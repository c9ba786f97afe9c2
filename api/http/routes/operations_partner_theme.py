"""``/api/v1/operations/partners/{partner}/theme``: a partner's white-label theme (scope ``operations``).

Issue 17 item 3, seed 001 §5.2-5.3. Files first, then the theme that names them by digest:

* ``POST .../theme/logo`` (raw PNG, WebP or SVG body) and ``POST .../theme/font`` (raw WOFF2 body) check and
  store a file content-addressed, answering its SHA-256 (:mod:`ledger_core.partners.theme_assets`);
* ``PUT .../theme`` sets the whole theme (primary colour, display name, font stack, file digests), recorded
  as ``theme.set`` / ``theme.changed``; ``GET`` reads it; ``DELETE`` records ``theme.cleared``.

Refusals are ``VALIDATION_ERROR`` envelopes naming the field with the evidence (contrast ratio and a
passing suggestion, measured size and limit, SVG refusal reason). ``ledger partners theme`` does the same
from the command line. The pages use the theme through :mod:`api.http.pages.theme`.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from api.http.pages.theme_css import file_url, theme_href
from api.http.threads import run_blocking
from api.http.uploads import media_type_of
from api.runtime import Runtime
from ledger_core.partners.theme import FontStack, ThemeResult, ThemeSettings
from ledger_core.partners.theme_assets import AssetKind, ThemeAsset

OPS = {"scope": "operations"}
PartnerId = Annotated[str, PathParameter(description="The partner id.", max_length=64)]
Digest = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


class ThemeBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """The whole theme to set; files by the digest their upload answered."""

    primary: Annotated[str, msgspec.Meta(pattern="^#[0-9A-Fa-f]{6}$")]
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    font: FontStack = FontStack.SYSTEM
    logo_sha256: Digest | None = None
    font_sha256: Digest | None = None


class ThemeDetails(msgspec.Struct, rename="camel"):
    primary: str
    on_primary: str
    display_name: str | None
    font: str
    font_family: str
    logo_sha256: str | None
    logo_media_type: str | None
    logo_url: str | None
    font_sha256: str | None
    stylesheet: str


class ThemeView(msgspec.Struct, rename="camel"):
    partner_id: str
    theme: ThemeDetails | None
    positions: list[int]


class ThemeFileView(msgspec.Struct, rename="camel"):
    partner_id: str
    kind: str
    sha256: str
    media_type: str
    size: int
    width: int | None
    height: int | None


def theme_view(partner_id: str, settings: ThemeSettings | None, positions: tuple[int, ...] = ()) -> ThemeView:
    """The answer of every theme operation (``ledger partners theme show`` prints the same fields)."""
    if settings is None:
        return ThemeView(partner_id=partner_id, theme=None, positions=list(positions))
    details = ThemeDetails(
        primary=settings.primary,
        on_primary=settings.on_primary,
        display_name=settings.display_name,
        font=settings.font.value,
        font_family=settings.font_family,
        logo_sha256=settings.logo_sha256,
        logo_media_type=settings.logo_media_type,
        logo_url=None if settings.logo_sha256 is None else file_url(partner_id, settings.logo_sha256),
        font_sha256=settings.font_sha256,
        stylesheet=theme_href(partner_id, settings),
    )
    return ThemeView(partner_id=partner_id, theme=details, positions=list(positions))


def file_view(partner_id: str, asset: ThemeAsset) -> ThemeFileView:
    return ThemeFileView(
        partner_id=partner_id,
        kind=asset.kind.value,
        sha256=asset.sha256,
        media_type=asset.media_type.value,
        size=asset.size,
        width=asset.width,
        height=asset.height,
    )


class OperationsPartnerThemeController(Controller):
    path = "/operations/partners"
    tags = ("operations",)

    @get("/{partner:str}/theme", opt=OPS, summary="A partner's white-label theme")
    async def theme(self, partner: PartnerId, runtime: NamedDependency[Runtime]) -> ThemeView:
        def read() -> ThemeSettings | None:
            runtime.ledger.partners.get(partner)
            return runtime.ledger.themes.current(partner)

        return theme_view(partner, await run_blocking(read))

    @put("/{partner:str}/theme", opt=OPS, summary="Set (replace) a partner's white-label theme", status_code=200)
    async def set_theme(
        self, partner: PartnerId, data: JSONBody[ThemeBody], runtime: NamedDependency[Runtime]
    ) -> ThemeView:
        def change() -> ThemeResult:
            return runtime.ledger.themes.set(
                partner,
                primary=data.primary,
                display_name=data.display_name,
                font=data.font.value,
                logo_sha256=data.logo_sha256,
                font_sha256=data.font_sha256,
            )

        result = await run_blocking(change)
        return theme_view(partner, result.settings, result.positions)

    @delete("/{partner:str}/theme", opt=OPS, summary="Clear a partner's theme (house defaults)", status_code=200)
    async def clear_theme(self, partner: PartnerId, runtime: NamedDependency[Runtime]) -> ThemeView:
        result = await run_blocking(runtime.ledger.themes.clear, partner)
        return theme_view(partner, None, result.positions)

    @post("/{partner:str}/theme/logo", opt=OPS, summary="Upload a theme logo (PNG, WebP or SVG)", status_code=201)
    async def upload_logo(
        self, request: Request[Any, Any, Any], partner: PartnerId, runtime: NamedDependency[Runtime]
    ) -> ThemeFileView:
        return await self._upload(request, partner, runtime, AssetKind.LOGO)

    @post("/{partner:str}/theme/font", opt=OPS, summary="Upload a theme font (WOFF2)", status_code=201)
    async def upload_font(
        self, request: Request[Any, Any, Any], partner: PartnerId, runtime: NamedDependency[Runtime]
    ) -> ThemeFileView:
        return await self._upload(request, partner, runtime, AssetKind.FONT)

    @staticmethod
    async def _upload(
        request: Request[Any, Any, Any], partner: str, runtime: Runtime, kind: AssetKind
    ) -> ThemeFileView:
        body = await request.body()
        declared = media_type_of(request.headers.get("content-type"))
        asset = await run_blocking(runtime.ledger.themes.store_asset, partner, kind, body, declared)
        return file_view(partner, asset)
