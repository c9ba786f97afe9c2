"""``ledger partners theme``: a partner's white-label theme from the command line (docs/portal.md, Theming).

``set`` replaces the whole theme (primary colour, display name, font, logo; an option left out is not
part of the new theme), ``show`` prints it, ``clear`` returns to the house defaults. Files are checked
and stored content-addressed first (the same use case as ``POST /api/v1/operations/partners/{id}/theme/logo``),
then the theme records their digests: one ``theme.set``/``theme.changed`` entry in the log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.opening import open_ledger
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.options import DatabaseUrl, DataDir, existing
from ledger_core.partners.theme import FontStack, ThemeResult, ThemeSettings
from ledger_core.partners.theme_assets import AssetKind

theme_app = typer.Typer(no_args_is_help=True, help="A partner's white-label theme: colour, name, logo, font.")


def theme_json(partner_id: str, settings: ThemeSettings | None, positions: tuple[int, ...] = ()) -> dict[str, Any]:
    """The theme as ``GET /api/v1/operations/partners/{id}/theme`` names its fields (without URLs)."""
    theme = None
    if settings is not None:
        theme = {
            "primary": settings.primary,
            "onPrimary": settings.on_primary,
            "displayName": settings.display_name,
            "font": settings.font.value,
            "fontFamily": settings.font_family,
            "logoSha256": settings.logo_sha256,
            "logoMediaType": settings.logo_media_type,
            "fontSha256": settings.font_sha256,
        }
    return {"partnerId": partner_id, "theme": theme, "positions": list(positions)}


def _echo(result: ThemeResult) -> None:
    typer.echo(json.dumps(theme_json(result.partner_id, result.settings, result.positions), indent=2, sort_keys=True))


@theme_app.command("set")
def set_theme(
    partner_id: str,
    primary: Annotated[str, typer.Option(help="#RRGGBB; must reach 4.5:1 on white (WCAG 2.1 AA).")],
    display_name: Annotated[
        str | None, typer.Option(help="Shown in page headers (default: the partner's name).")
    ] = None,
    logo: Annotated[
        Path | None, typer.Option(help="PNG, WebP or SVG, at most 200 KB.", exists=True, dir_okay=False)
    ] = None,
    font: Annotated[FontStack, typer.Option(help="A font stack from the allow-list.")] = FontStack.SYSTEM,
    font_file: Annotated[
        Path | None,
        typer.Option(help="A WOFF2 font (at most 300 KB), used before the stack.", exists=True, dir_okay=False),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Set (replace) the partner's theme and print it with the log positions it recorded."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        logo_sha256 = (
            None if logo is None else ledger.themes.store_asset(partner_id, AssetKind.LOGO, logo.read_bytes()).sha256
        )
        font_sha256 = (
            None
            if font_file is None
            else ledger.themes.store_asset(partner_id, AssetKind.FONT, font_file.read_bytes()).sha256
        )
        result = ledger.themes.set(
            partner_id,
            primary=primary,
            display_name=display_name,
            font=font.value,
            logo_sha256=logo_sha256,
            font_sha256=font_sha256,
        )
    _echo(result)


@theme_app.command("show")
def show_theme(partner_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Print the partner's theme ("theme": null when the house defaults apply)."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        ledger.partners.get(partner_id)
        settings = ledger.themes.current(partner_id)
    _echo(ThemeResult(partner_id, settings, ()))


@theme_app.command("clear")
def clear_theme(partner_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Back to the house defaults (records theme.cleared; nothing when there is no theme)."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        result = ledger.themes.clear(partner_id)
    _echo(result)
