"""The console answers refusals with pages: no session -> its sign-in page, a refused rule -> 403 page, an
action the ledger refuses -> its reason with the API's status (api/http/pages/console_access.py)."""

from __future__ import annotations

from typing import Annotated

from litestar import Litestar, Router, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import PathParameter
from litestar.testing import TestClient

from api.http.pages import template_config
from api.http.pages.console_access import EXCEPTION_HANDLERS
from ledger_core.accounts.errors import CsrfRefused, SessionInvalid
from ledger_core.engine.errors import InvalidTransition

Partner = Annotated[str, PathParameter()]


@get("/{partner:str}/claims")
async def no_session(partner: Partner) -> None:
    raise SessionInvalid("missing")


@post("/{partner:str}/credentials/rotate")
async def rotate(partner: Partner) -> None:
    raise InvalidTransition("api_key", "expired", "rotate")


@post("/{partner:str}/webhooks/resend")
async def forged(partner: Partner) -> None:
    raise CsrfRefused()


@get("/{partner:str}/webhooks")
async def other_partner(partner: Partner) -> None:
    raise PermissionDeniedException("This console is for the staff of its partner only.")


def client() -> TestClient[Litestar]:
    console = Router(
        path="/console",
        route_handlers=[no_session, rotate, forged, other_partner],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    return TestClient(Litestar([console], template_config=template_config()))


def test_no_session_goes_to_the_sign_in_page_and_comes_back() -> None:
    with client() as http:
        answer = http.get("/console/acme/claims", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/acme/sign-in?return_to=/console/acme/claims"
    assert answer.headers["cache-control"] == "no-store"


def test_refusals_are_403_pages_with_their_reason() -> None:
    with client() as http:
        forged_post = http.post("/console/acme/webhooks/resend")
        elsewhere = http.get("/console/acme/webhooks")
    assert forged_post.status_code == 403
    assert "Reload the page" in forged_post.text
    assert elsewhere.status_code == 403
    assert "staff of its partner only" in elsewhere.text
    assert elsewhere.headers["content-type"].startswith("text/html")


def test_an_action_the_ledger_refuses_shows_why_with_the_apis_status() -> None:
    with client() as http:
        answer = http.post("/console/acme/credentials/rotate")
    assert answer.status_code == 409
    assert "This could not be done" in answer.text
    assert "rotate" in answer.text
