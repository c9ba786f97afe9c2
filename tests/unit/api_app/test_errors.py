"""The error envelope and the one status map: every exception becomes the seed 7.1 body with the right status."""

from __future__ import annotations

import json
import logging

import pytest
from litestar import Litestar, get
from litestar.exceptions import MethodNotAllowedException, NotFoundException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.testing import TestClient

from api.http.errors import (
    ERROR_CODES,
    ApiError,
    make_exception_handler,
    problem_of,
    render_problem,
    status_of,
)
from api.security import InvalidToken, ReplayedRequest
from api.security.tokens import OAuthError
from ledger_core.claims.errors import DuplicateClaim
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.engine.merkle import NotSealed

SEED_CODES = {
    "AUTH_INVALID_TOKEN": 401,
    "AUTH_INSUFFICIENT_SCOPE": 403,
    "RATE_LIMIT_EXCEEDED": 429,
    "CLAIM_NOT_FOUND": 404,
    "VALIDATION_ERROR": 400,
    "INTERNAL_ERROR": 500,
}


def test_the_seed_codes_keep_their_statuses() -> None:
    """Seed 7.2's six codes map to exactly the statuses the seed gives them."""
    assert {code: status_of(code) for code in SEED_CODES} == SEED_CODES


def test_every_code_has_a_status_and_a_meaning() -> None:
    """The table is complete: an HTTP error status and a description for each code."""
    for code, (status, meaning) in ERROR_CODES.items():
        assert 400 <= status < 600, code
        assert meaning, code
    assert status_of("SOMETHING_NEW") == 500


def test_api_error_refuses_an_unknown_code() -> None:
    """A code outside the table is a programming error, caught at once."""
    with pytest.raises(ValueError, match="unknown error code"):
        ApiError("NOPE", "x")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (NotFound("claim", "abc"), "CLAIM_NOT_FOUND"),
        (NotFound("document", "abc"), "DOCUMENT_NOT_FOUND"),
        (NotFound("entry", "7"), "ENTRY_NOT_FOUND"),
        (NotFound("api_key", "pk_1"), "NOT_FOUND"),
        (DuplicateClaim("c", "p", "r", ["claim_amount"]), "DUPLICATE_CLAIM"),
        (NotFoundException(), "NOT_FOUND"),
        (MethodNotAllowedException(), "METHOD_NOT_ALLOWED"),
        (RequestEntityTooLarge(), "PAYLOAD_TOO_LARGE"),
        (ValidationException(extra=[{"key": "claimType", "message": "bad", "source": "body"}]), "VALIDATION_ERROR"),
        (OAuthError("invalid_client", "no", 401), "AUTH_INVALID_CLIENT"),
        (OAuthError("invalid_request", "no"), "VALIDATION_ERROR"),
        (RuntimeError("boom"), "INTERNAL_ERROR"),
    ],
)
def test_exceptions_map_to_codes(exc: BaseException, code: str) -> None:
    """Domain, framework and unexpected exceptions each get their code."""
    assert problem_of(exc).code == code


def test_not_found_never_echoes_more_than_the_id() -> None:
    """A missing (or someone else's) claim says only which id was asked for."""
    problem = problem_of(NotFound("claim", "0000"))
    assert (problem.message, dict(problem.details)) == ("claim not found", {"id": "0000"})


def test_auth_errors_hide_their_reason_and_challenge() -> None:
    """The metrics reason stays out of the body; 401s carry WWW-Authenticate."""
    problem = problem_of(ReplayedRequest("X-Request-ID was already used", "seen", request_id="r"))
    assert problem.code == "AUTH_REPLAYED_REQUEST"
    assert dict(problem.details) == {"request_id": "r"}
    assert problem.headers["WWW-Authenticate"].startswith("Bearer")
    assert "reason" not in problem_of(InvalidToken("expired", "expired")).details


def test_validation_fields_keep_the_domain_names_until_a_route_renames_them() -> None:
    """problem_of knows no route: the wire names come from api.http.wire_names (test_wire_names.py)."""
    problem = problem_of(InvalidCommand("bad", field="documents[0].claim_type", value="x"))
    assert problem.details["field"] == "documents[0].claim_type"


def test_retryable_errors_say_when() -> None:
    """NOT_SEALED answers 409 with Retry-After."""
    problem = problem_of(NotSealed("later", position=3))
    assert (status_of(problem.code), problem.headers["Retry-After"]) == (409, "1")


def test_envelope_has_exactly_the_seed_fields() -> None:
    """render_problem produces the seed 7.1 body with the request id and a documentation link."""
    status, _, body = render_problem(NotFound("claim", "x"), "rid-1", "https://docs.example/http")
    error = json.loads(body)["error"]
    assert status == 404
    assert set(error) == {"code", "message", "details", "requestId", "documentation"}
    assert error["requestId"] == "rid-1"
    assert error["documentation"] == "https://docs.example/http#CLAIM_NOT_FOUND"


def test_unexpected_exception_is_logged_but_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    """A crash is 500 INTERNAL_ERROR without a trace in the body; the log has the trace and request id."""

    @get("/crash", sync_to_thread=False)
    def crash() -> None:
        raise RuntimeError("secret internals")

    app = Litestar([crash], exception_handlers={Exception: make_exception_handler("https://d")}, logging_config=None)
    with caplog.at_level(logging.ERROR), TestClient(app, base_url="http://t.local") as client:
        response = client.get("/crash", headers={"X-Request-ID": "6f1c7f1e-1111-4a4a-9b9b-000000000001"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    record = next(r for r in caplog.records if r.name == "api.http.errors")
    assert record.request_id == "6f1c7f1e-1111-4a4a-9b9b-000000000001"  # type: ignore[attr-defined]
    assert record.exc_info is not None


def test_docs_list_every_code_with_its_status() -> None:
    """docs/http.md's error table has every code of the status map, with the same status."""
    from pathlib import Path

    text = (Path(__file__).parents[3] / "docs" / "http.md").read_text(encoding="utf-8")
    text = text[text.index("## Errors") : text.index("## Versions")]
    rows = {
        line.split("|")[1].strip(" `"): int(line.split("|")[2])
        for line in text.splitlines()
        if line.startswith("| `") and line.split("|")[2].strip().isdigit()
    }
    assert rows == {code: status for code, (status, _) in ERROR_CODES.items()}
