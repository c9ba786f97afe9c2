"""What a page shows of a partner's brand: display name, logo and the partner's theme stylesheet.

The one place pages (portal, embed, widget, console) ask for a partner's branding. A partner with a
white-label theme (issue 17 item 3, :mod:`ledger_core.partners.theme`, served by :mod:`api.http.pages.theme`)
gets its display name, logo and versioned stylesheet; without one, the registered name on the house
stylesheet's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.http.pages.theme_css import file_url, theme_href
from ledger_core.ledger import Ledger


@dataclass(frozen=True, slots=True)
class Branding:
    """A partner's brand as templates use it (``branding.display_name`` ...)."""

    partner_id: str
    display_name: str
    logo_url: str | None
    """Where the page loads the partner's logo from (served by the app), or ``None`` for no logo."""
    theme_href: str | None
    """The partner's theme stylesheet (custom properties over ``pages.css``), or ``None`` for the defaults."""
    primary: str | None = None
    """The theme's primary colour ``#rrggbb`` (for what needs it outside CSS, e.g. a widget option), or None."""


def partner_branding(ledger: Ledger, partner_id: str) -> Branding:
    """The branding of ``partner_id`` (raises the ledger's not-found error for an unknown partner)."""
    partner = ledger.partners.get(partner_id)
    settings = ledger.themes.current(partner_id)
    if settings is None:
        return Branding(partner_id=partner_id, display_name=partner.name, logo_url=None, theme_href=None)
    return Branding(
        partner_id=partner_id,
        display_name=settings.display_name or partner.name,
        logo_url=None if settings.logo_sha256 is None else file_url(partner_id, settings.logo_sha256),
        theme_href=theme_href(partner_id, settings),
        primary=settings.primary,
    )
