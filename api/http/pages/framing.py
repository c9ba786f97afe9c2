"""Who may frame a portal page, and what a portal page may load (issue 17 item 2; docs/portal.md).

Every portal and embed page answers with a ``Content-Security-Policy`` (CSP Level 3) whose
``frame-ancestors`` is ``'self'`` plus the registered portal origins of the page's partner (the signed-in
member's partner: so a member's own pages, their result included, can be framed by their partner's
pages and nobody else's). Everything else is served by the app itself: no third-party script, style,
font or image, no inline script (``script-src 'self'``), forms only to the app (``form-action 'self'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_FIXED = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)


def frame_ancestors(origins: Iterable[str]) -> str:
    """The ``frame-ancestors`` directive: ``'self'`` and each origin (already normalized at registration)."""
    return " ".join(["frame-ancestors", "'self'", *origins])


def portal_headers(origins: Iterable[str]) -> Mapping[str, str]:
    """The headers of a portal page framable by ``origins``: CSP, no caching of a member's page, no referrer
    (the page's URL never reaches another site), no MIME sniffing."""
    return {
        "Content-Security-Policy": "; ".join([*_FIXED, frame_ancestors(origins)]),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
