"""The auditor console (issue 17 item 5): public, no account; verifies checkpoints and proofs in the browser.

The server only serves the page and its scripts; every check runs in the auditor's browser, in
``static/auditor/verify.js`` (RFC 9162 inclusion and consistency, C2SP signed notes and checkpoints, with
WebCrypto SHA-256 and Ed25519) and ``static/auditor/documents.js`` (the proof document format of
docs/proofs.md). The data the console fetches comes from the public log routes
(:mod:`api.http.routes.public_log`). See docs/portal.md, "Auditor console".
"""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page loads its own scripts and styles only, talks to this server only, and is never framed:
what an auditor pastes is only ever written as text (``textContent``), and this policy is the backstop."""


class AuditorConsoleController(Controller):
    path = "/auditor"
    include_in_schema = False

    @get("/", name="auditor-console")
    async def console(self) -> Template:
        """The console page (all verification happens client-side)."""
        headers = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        return Template(template_name="auditor/console.html", context={"log_path": "/auditor/log"}, headers=headers)
