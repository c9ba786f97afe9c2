"""Validation errors name the field as the client sent it, say where it was sent, and link to served docs.

Through a real server: claims are camelCase (seed 000), the eligibility records snake_case (seed 001);
each error's ``field`` is that route's wire name (a dotted path with ``[index]``), ``source`` is one of
``body``/``query``/``path``/``header``, the message uses the same name, and ``documentation`` is a page
this server answers.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.http_server import LiveServer, claim_body, live_server

from api.client.ledger_client import LedgerApiError, LedgerClient
from ledger_core.shared.vocabulary import SCOPES

SOURCES = {"body", "query", "path", "header"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("validation") / "data") as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> LedgerClient:
    return server.client(server.create_partner(f"v_{uuid.uuid4().hex[:10]}", scopes=sorted(SCOPES)))


def refused(call: Any) -> LedgerApiError:
    with pytest.raises(LedgerApiError) as raised:
        call()
    error = raised.value
    assert "ParamType" not in json.dumps(error.details)
    return error


def only_field(error: LedgerApiError) -> dict[str, Any]:
    """The one field a Litestar validation error lists."""
    assert error.code == "VALIDATION_ERROR"
    fields = error.details["fields"]
    assert len(fields) == 1, fields
    assert fields[0]["source"] in SOURCES
    return dict(fields[0])


def member(**overrides: str) -> dict[str, Any]:
    return {
        "partner_member_id": f"m-{uuid.uuid4().hex[:8]}",
        "email": "zebulon@quixoteworth.example",
        "first_name": "Zebulon",
        "last_name": "Quixoteworth",
        "date_of_birth": "1979-11-23",
        "state": "IA",
        "policy_type": "Life",
        **overrides,
    }


@pytest.mark.parametrize("missing", ["documents", "verificationLevel", "partnerClaimId"])
def test_a_missing_body_field_is_named(client: LedgerClient, missing: str) -> None:
    """Not ``data``: the required field itself, in the body."""
    body = {k: v for k, v in claim_body(f"CLM-{uuid.uuid4().hex[:8]}").items() if k != missing}
    field = only_field(refused(lambda: client.submit_claim(body)))
    assert (field["field"], field["source"]) == (missing, "body")
    assert missing in field["message"]


def test_a_nested_field_is_a_path(client: LedgerClient) -> None:
    """A field inside a list item is named by its path, missing or invalid alike."""
    body = claim_body("CLM-N1", [{"type": "photo"}])
    assert only_field(refused(lambda: client.submit_claim(body)))["field"] == "documents[0].hash"
    body = claim_body("CLM-N2", [{"type": "scan", "hash": "a" * 64}])
    assert only_field(refused(lambda: client.submit_claim(body)))["field"] == "documents[0].type"


def test_domain_errors_use_the_wire_name_in_field_and_message(client: LedgerClient) -> None:
    """camelCase on the claims API: ``claimAmount``, never ``claim_amount``, in field and message."""
    error = refused(lambda: client.submit_claim(claim_body("CLM-A1", amount="-1")))
    assert error.details == {"field": "claimAmount", "value": "-1", "source": "body"}
    assert error.message.startswith("claimAmount ")
    assert "claim_amount" not in error.message


def test_eligibility_records_keep_their_snake_case_names(client: LedgerClient) -> None:
    """Seed 001 records are snake_case: a bad and a missing date of birth are both ``date_of_birth``."""
    invalid = refused(lambda: client.upsert_member(member(date_of_birth="1979-13-01")))
    assert (invalid.details["field"], invalid.details["source"]) == ("date_of_birth", "body")
    assert invalid.message.startswith("date_of_birth ")
    record = member()
    del record["date_of_birth"]
    assert only_field(refused(lambda: client.upsert_member(record)))["field"] == "date_of_birth"
    for error in (invalid,):
        assert "dateOfBirth" not in json.dumps(error.details) + error.message


def test_query_parameters_are_named_and_placed(client: LedgerClient, server: LiveServer) -> None:
    """A bad query parameter: its name as sent and ``source: query`` (not ``ParamType.QUERY``)."""
    limit = only_field(refused(lambda: client.audit_logs(limit=0)))
    assert (limit["field"], limit["source"]) == ("limit", "query")
    since = refused(lambda: client.audit_logs(since="yesterday"))
    assert (since.details["field"], since.details["source"]) == ("since", "query")
    dates = refused(lambda: client.get_outcomes("2026-13-01", "2026-01-31"))
    assert (dates.details["field"], dates.details["source"]) == ("start_date", "query")


def test_conflicts_name_the_differing_fields_on_the_wire(client: LedgerClient) -> None:
    """DUPLICATE_CLAIM says which fields differ, as the client named them."""
    client.submit_claim(claim_body("CLM-DUP"))
    error = refused(lambda: client.submit_claim(claim_body("CLM-DUP", amount="99.00")))
    assert error.code == "DUPLICATE_CLAIM"
    assert error.details["differing_fields"] == ["claimAmount"]
    assert "claim_amount" not in error.message


def test_documentation_links_are_served_by_the_server(client: LedgerClient, server: LiveServer) -> None:
    """Every error's documentation link answers 200 with a section whose anchor is the code."""
    seen: dict[str, str] = {}
    for call in (
        lambda: client.submit_claim(claim_body("CLM-L1", amount="-1")),
        lambda: client.get_claim(str(uuid.uuid4())),
    ):
        error = refused(call)
        assert client.last_response is not None
        seen[error.code] = client.last_response.json()["error"]["documentation"]
    missing = httpx.get(f"{server.url}/no/such/page").json()["error"]
    seen[missing["code"]] = missing["documentation"]
    for code, link in seen.items():
        assert link == f"{server.url}/docs/errors#{code}"
        page, anchor = link.split("#")
        response = httpx.get(page)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert re.search(rf'id="{anchor}"', response.text), code
