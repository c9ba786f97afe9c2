"""The failure page and docs/sso.md agree on every reason code, and the page says nothing else."""

from __future__ import annotations

from pathlib import Path

from api.http.sso_pages import MESSAGES, login_failure_page
from ledger_core.accounts.errors import LoginFailure

DOC = Path(__file__).parents[3] / "docs" / "sso.md"


def test_every_reason_has_a_message_and_a_documented_row() -> None:
    """Each LoginFailure has a sentence, and docs/sso.md's table lists it with that same sentence."""
    text = DOC.read_text(encoding="utf-8")
    for reason in LoginFailure:
        assert reason in MESSAGES
        assert f"| `{reason.value}` | {MESSAGES[reason]} |" in text, reason


def test_page_shows_reason_and_request_id_escaped() -> None:
    """The page carries the message, the reason code and the request id, HTML-escaped."""
    page = login_failure_page("replayed", "<req-1>").decode()
    assert MESSAGES[LoginFailure.REPLAYED] in page
    assert '<code id="reason">replayed</code>' in page
    assert "&lt;req-1&gt;" in page
    assert "<req-1>" not in page
    assert "The sign-in was refused." in login_failure_page("no_such_reason", "r").decode()
