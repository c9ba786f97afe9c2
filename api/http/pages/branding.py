"""What a page shows of a partner's brand: display name, logo and the partner's theme stylesheet.

The one place pages (portal, embed, widget, console) ask for a partner's branding. Until a partner sets a
white-label theme (issue 17 item 3, :mod:`api.http.pages.theme`) the brand is the partner's registered
name on the house stylesheet's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def partner_branding(ledger: Ledger, partner_id: str) -> Branding:
    """The branding of ``partner_id`` (raises the ledger's not-found error for an unknown partner)."""
    partner = ledger.partners.get(partner_id)
    return Branding(partner_id=partner_id, display_name=partner.name, logo_url=None, theme_href=None)
