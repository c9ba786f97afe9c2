"""A partner theme's stylesheet text and URLs (shared by the theme pages, the branding lookup and the API).

The stylesheet sets only the ``--pq-*`` custom properties of ``pages.css`` and, for an uploaded WOFF2, an
``@font-face``. Its values come from validated settings (``#rrggbb`` colours, allow-listed font stacks, hex
digests), so no partner-supplied text reaches CSS.
"""

from __future__ import annotations

import hashlib

from ledger_core.partners.theme import ThemeSettings


def file_url(partner_id: str, sha256: str) -> str:
    """Where pages load a theme file from (the digest is the cache key)."""
    return f"/portal/{partner_id}/theme-files/{sha256}"


def stylesheet(partner_id: str, settings: ThemeSettings) -> str:
    """The theme's CSS: custom properties over ``pages.css`` and, for an uploaded font, its ``@font-face``."""
    lines = [
        f"/* Theme of partner {partner_id}: overrides pages.css custom properties only. */",
        ":root, :host {",  # :host too: the widget mounts the pages in a shadow root
        f"  --pq-primary: {settings.primary};",
        f"  --pq-on-primary: {settings.on_primary};",
        f"  --pq-font: {settings.font_family};",
        "}",
    ]
    if settings.font_sha256 is not None:
        source = file_url(partner_id, settings.font_sha256)
        lines += [
            "@font-face {",
            '  font-family: "pq-partner";',
            f'  src: url("{source}") format("woff2");',
            "  font-display: swap;",
            "}",
        ]
    return "\n".join(lines) + "\n"


def stylesheet_version(text: str) -> str:
    """The version in :func:`theme_href`: the first 16 hex digits of the stylesheet's SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def theme_href(partner_id: str, settings: ThemeSettings) -> str:
    """The versioned stylesheet URL pages link (changes whenever the stylesheet does)."""
    return f"/portal/{partner_id}/theme.css?v={stylesheet_version(stylesheet(partner_id, settings))}"
