"""What a partner meets first, through HTTP (issue 19, items 5 and 11): query-string times with a ``+``
offset, the seed's ``GET /enrollments?partner_member_id=`` form, and the enrollments changed since a time
(cursor-paginated, the API twin of the enrollment feed, with its privacy rules)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.http_server import LiveServer, servers

from api.client.ledger_client import LedgerApiError, LedgerClient

SCOPES = ("audit:read", "eligibility:write", "enrollments:read")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from servers(request, tmp_path_factory, request.param)


def person(pmid: str) -> dict[str, Any]:
    return {
        "partner_member_id": pmid,
        "email": f"ada.{pmid}@example.test",
        "first_name": "Ada",
        "last_name": "Quill",
        "date_of_birth": "1980-02-14",
        "state": "IA",
        "policy_type": "Life",
        "gender": "O",
    }


@pytest.fixture(scope="module")
def members(server: LiveServer) -> tuple[LedgerClient, str, str]:
    """A partner with three members, two enrolled (one with a delivered result), and the time before it all."""
    client = server.client(server.create_partner(f"p_{uuid.uuid4().hex[:10]}", scopes=SCOPES))
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    pid = client.client_id.removeprefix("partner_")
    before = (datetime.now(UTC) - timedelta(seconds=2)).isoformat(timespec="seconds")  # "...+00:00"
    for pmid in ("a-1", "a-2", "a-3"):
        client.upsert_member(person(pmid))
    ops.record_enrollment(pid, "a-1", "2026-01-10")
    ops.record_enrollment(pid, "a-2", "2026-01-11")
    ops.record_kit_order(pid, "a-1", "2026-01-12")
    ops.record_sample(pid, "a-1", "2026-01-15", "2026-01-22")
    ops.record_result(pid, "a-1", "2026-01-22", "MZ")
    return client, pid, before


def test_query_form_answers_like_the_path_form(members: tuple[LedgerClient, str, str]) -> None:
    """GET /enrollments?partner_member_id=a-1 is byte for byte GET /enrollments/a-1 (seed 001 §3.2's example)."""
    client, _, _ = members
    by_path = client.send("GET", "/api/v1/enrollments/a-1").content
    by_query = client.send("GET", "/api/v1/enrollments", params={"partner_member_id": "a-1"}).content
    assert by_query == by_path
    assert b'"result_type":null' in by_query
    with pytest.raises(LedgerApiError) as unknown:
        client.send("GET", "/api/v1/enrollments", params={"partner_member_id": "nobody"})
    assert (unknown.value.status, unknown.value.code) == (404, "MEMBER_NOT_FOUND")


def test_enrollments_changed_since_a_time_page_by_page(members: tuple[LedgerClient, str, str]) -> None:
    """Every change since ``since`` in log order, two per page with a cursor; the status is today's, and
    the result is never shown."""
    client, _, before = members
    first = client.enrollment_changes(since=before, limit=2)
    assert first.has_more
    assert len(first.data) == 2
    changes = list(client.iter_enrollment_changes(since=before, page_size=2))
    assert [change.enrollment.partner_member_id for change in changes] == ["a-1", "a-2", "a-1", "a-1", "a-1"]
    positions = [change.position for change in changes]
    assert positions == sorted(positions)
    assert all(change.enrollment.result_type is None for change in changes)
    assert {change.enrollment.test_status for change in changes if change.enrollment.partner_member_id == "a-1"} == {
        "result_delivered"
    }
    raw = client.send("GET", "/api/v1/enrollments", params={"since": before, "limit": 100}).content
    assert b"MZ" not in raw
    later = client.enrollment_changes(since=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert (later.data, later.has_more) == ([], False)


def test_another_partner_sees_none_of_them(server: LiveServer, members: tuple[LedgerClient, str, str]) -> None:
    """The list holds only the caller's members."""
    _, _, before = members
    other = server.client(server.create_partner(f"p_{uuid.uuid4().hex[:10]}", scopes=SCOPES))
    assert other.enrollment_changes(since=before).data == []


def test_a_plus_offset_is_accepted_encoded_or_not(server: LiveServer, members: tuple[LedgerClient, str, str]) -> None:
    """``since=...+00:00``: the SDK sends ``%2B``; a hand-written ``+`` (a space after form decoding) is
    read back as ``+``, on the audit log and the enrollment list alike; a real malformed time is still 400."""
    client, _, before = members
    assert before.endswith("+00:00")
    client.audit_logs(since=before)
    sent = client.last_response
    assert sent is not None
    assert "%2B00%3A00" in str(sent.request.url) or "%2B00:00" in str(sent.request.url)
    encoded = client.send("GET", "/api/v1/audit/logs", params={"since": before, "limit": 100}).json()
    for path in ("/api/v1/audit/logs", "/api/v1/enrollments"):
        raw = raw_query_get(client, path, f"since={before}&limit=100")  # the + left as it is, like curl
        assert raw.status_code == 200, raw.text
        if path == "/api/v1/audit/logs":
            assert raw.json() == encoded
    broken = raw_query_get(client, "/api/v1/audit/logs", "since=2026-01-01T00:00:00+0000")
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "VALIDATION_ERROR"


def raw_query_get(client: LedgerClient, path: str, query: str) -> httpx.Response:
    """A signed GET whose query string is sent exactly as written (no percent-encoding)."""
    headers = client.signed_headers("GET", path, query, b"")
    return client.http.get(httpx.URL(client.http.base_url.join(path), query=query.encode()), headers=headers)
