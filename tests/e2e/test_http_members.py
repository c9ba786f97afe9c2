"""Eligibility, enrollments, outcomes, reminders and members end to end: a real server, the SDK, both backends.

Every partner endpoint and its errors (seed 001 §3.3), the operations side of the enrollment lifecycle
(scope ``operations``), and the privacy guarantees: a partner's responses, its audit log and the server's
log never carry an individual result or personal plaintext (every byte searched).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.http_server import LiveServer, servers

from api.client.ledger_client import LedgerApiError, LedgerClient
from api.security.enrollment_tokens import EnrollmentTokenInvalid, EnrollmentTokens
from api.security.secrets import load_deployment_secret
from ledger_core.members.outcomes import month_end

MEMBER_SCOPES = (
    "audit:read",
    "eligibility:read",
    "eligibility:write",
    "enrollments:read",
    "outcomes:read",
    "reminders:write",
)
RESTRICTED = "NY"
BASE_URL = "https://enroll.example.test/start"
TTL_S = 3600


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend, with a restricted state and a known enrollment link base and lifetime."""
    extra = {
        "LEDGER_RESTRICTED_STATES": RESTRICTED,
        "LEDGER_ENROLLMENT_BASE_URL": BASE_URL,
        "LEDGER_ENROLLMENT_TOKEN_TTL_SECONDS": str(TTL_S),
    }
    yield from servers(request, tmp_path_factory, request.param, extra)


class Recorder:
    """Keeps every response body a client received (what a partner can see)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(bytes(response.content) + b"\n" + str(dict(response.headers)).encode())


def partner(server: LiveServer, recorder: Recorder | None = None) -> LedgerClient:
    credentials = server.create_partner(f"p_{uuid.uuid4().hex[:10]}", scopes=MEMBER_SCOPES)
    options: dict[str, Any] = {}
    if recorder is not None:
        options["http"] = httpx.Client(base_url=server.url, timeout=30, event_hooks={"response": [recorder]})
    return server.client(credentials, **options)


def operator(server: LiveServer) -> LedgerClient:
    return server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))


def person(pmid: str, **overrides: str) -> dict[str, Any]:
    return {
        "partner_member_id": pmid,
        "email": f"zebulon.{pmid}@quixoteworth.example",
        "first_name": "Zebulon",
        "last_name": "Quixoteworth",
        "date_of_birth": "1979-11-23",
        "state": "IA",
        "policy_type": "Life",
        "gender": "O",
        **overrides,
    }


def error_of(call: Any) -> LedgerApiError:
    with pytest.raises(LedgerApiError) as raised:
        call()
    return raised.value


def test_member_upsert_and_eligibility_with_a_signed_expiring_link(server: LiveServer) -> None:
    """POST /members registers (201) then reports changes (200); eligibility answers with a verifiable link."""
    client = partner(server)
    created = client.upsert_member(person("m-1"))
    assert client.last_response is not None
    assert client.last_response.status_code == 201
    assert (created.created, created.changed) == (True, [])
    again = client.upsert_member(person("m-1"))
    assert client.last_response.status_code == 200
    assert (again.created, again.changed) == (False, [])
    moved = client.upsert_member(person("m-1", last_name="Quixoteworth-Smythe", state="TX"))
    assert moved.changed == ["last_name", "state"]

    answer = client.check_eligibility("m-1")
    assert (answer.eligible, answer.enrolled, answer.rule) == (True, False, None)
    assert answer.reason.startswith("Policyholder meets eligibility criteria")
    assert answer.enrollment_url is not None
    assert answer.enrollment_url.startswith(BASE_URL + "?token=")
    token = answer.enrollment_url.split("token=", 1)[1]
    tokens = EnrollmentTokens(
        load_deployment_secret(server.data_dir),
        issuer="https://ledger.proveniq.local",
        base_url=BASE_URL,
        ttl=timedelta(seconds=TTL_S),
    )
    now = datetime.now(UTC)
    grant = tokens.verify(token, now)
    assert (grant.partner_id, grant.partner_member_id) == (client.client_id.removeprefix("partner_"), "m-1")
    assert now + timedelta(seconds=TTL_S - 120) < grant.expires_at <= now + timedelta(seconds=TTL_S + 5)
    with pytest.raises(EnrollmentTokenInvalid, match="expired"):
        tokens.verify(token, now + timedelta(seconds=TTL_S + 10))
    forged = EnrollmentTokens(b"x" * 32, issuer="https://ledger.proveniq.local", base_url=BASE_URL, ttl=timedelta(1))
    with pytest.raises(EnrollmentTokenInvalid):
        forged.verify(token, now)


def test_member_upsert_takes_the_optional_email_opt_in_flag(server: LiveServer) -> None:
    """Our extension of the record: recorded on the member; absent means not opted in (a change)."""
    client = partner(server)
    assert client.upsert_member({**person("m-opt"), "email_opt_in": True}).created
    assert client.upsert_member({**person("m-opt"), "email_opt_in": True}).changed == []
    assert client.upsert_member(person("m-opt")).changed == ["email_opt_in"]


def test_eligibility_rules_and_member_errors(server: LiveServer) -> None:
    """Restricted state: not eligible, no link; unknown: 404 with the seed's body; bad rows: 400/422, no echo."""
    client = partner(server)
    client.upsert_member(person("ny-1", state=RESTRICTED))
    blocked = client.check_eligibility("ny-1")
    assert (blocked.eligible, blocked.rule, blocked.enrollment_url) == (False, "state_allowed", None)

    missing = error_of(lambda: client.check_eligibility("nobody"))
    assert (missing.status, missing.code) == (404, "MEMBER_NOT_FOUND")
    assert missing.details == {
        "partner_member_id": "nobody",
        "eligible": False,
        "reason": "Policyholder not found in eligibility feed",
    }
    other = partner(server)
    assert error_of(lambda: other.check_eligibility("ny-1")).code == "MEMBER_NOT_FOUND"  # partners never share

    minor_birth = (datetime.now(UTC) - timedelta(days=17 * 365)).date().isoformat()
    minor = error_of(lambda: client.upsert_member(person("kid", date_of_birth=minor_birth)))
    assert (minor.status, minor.code, minor.details["rule"]) == (422, "NOT_ELIGIBLE", "age_18_plus")
    assert minor_birth not in json.dumps(minor.details) + minor.message
    bad_email = error_of(lambda: client.upsert_member(person("bad", email="zebulon-at-nowhere")))
    assert (bad_email.status, bad_email.code) == (400, "VALIDATION_ERROR")
    assert "zebulon-at-nowhere" not in json.dumps(bad_email.details) + bad_email.message
    unknown_field = error_of(lambda: client.upsert_member({**person("x"), "ssn": "123"}))
    assert unknown_field.code == "VALIDATION_ERROR"
    assert error_of(lambda: client.check_eligibility("x" * 65)).status == 400
    # the same gate as every /api/v1 call: rate-limit headers on answers, 401 without credentials
    client.check_eligibility("ny-1")
    assert client.last_response is not None
    headers = client.last_response.headers
    assert all(name in headers for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"))
    anonymous = httpx.get(f"{server.url}/api/v1/eligibility/ny-1", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"].startswith("AUTH_")


def test_enrollment_lifecycle_through_operations_and_the_partner_view(server: LiveServer) -> None:
    """Operations record each step; the partner sees stage, dates, subscription and NPS, never the result."""
    client, ops = partner(server), operator(server)
    pid = client.client_id.removeprefix("partner_")
    client.upsert_member(person("e-1"))
    before = client.get_enrollment("e-1")
    assert (before.enrolled, before.reason, before.result_type) == (False, "Policyholder has not enrolled yet", None)

    assert ops.record_enrollment(pid, "e-1", "2026-01-10").status == "enrolled"
    assert ops.record_enrollment(pid, "e-1", "2026-01-10").positions == []  # a repeat records nothing
    assert ops.record_kit_order(pid, "e-1", "2026-01-11").status == "kit_ordered"
    assert ops.record_sample(pid, "e-1", "2026-01-15", "2026-01-22").status == "sample_received"
    delivered = ops.record_result(pid, "e-1", "2026-01-22", "MZ")
    assert (delivered.status, len(delivered.positions)) == ("result_delivered", 1)
    ops.schedule_counseling(pid, "e-1", "2026-01-29T15:00:00Z")
    ops.record_nps(pid, "e-1", 9, "overall")
    ops.record_nps(pid, "e-1", 10, "counseling")
    ops.record_action(pid, "e-1", "smoking_cessation")
    ops.start_subscription(pid, "e-1", "2026-02-01", "50.00")

    view = client.get_enrollment("e-1")
    raw = client.last_response
    assert raw is not None
    assert b'"result_type":null' in raw.content
    assert (view.enrolled, view.enrollment_date, view.test_status) == (True, "2026-01-10", "result_delivered")
    assert (view.kit_order_date, view.sample_received_date, view.estimated_result_date) == (
        "2026-01-11",
        "2026-01-15",
        "2026-01-22",
    )
    assert (view.result_delivery_date, view.result_type, view.counseling_scheduled) == ("2026-01-22", None, True)
    assert (view.subscription_status, view.nps_score) == ("active", 9)
    ops.cancel_subscription(pid, "e-1", "2026-05-15", "No longer interested")
    assert client.get_enrollment("e-1").subscription_status == "cancelled"

    late = error_of(lambda: ops.record_result(pid, "e-1", "2026-01-22", "ZZ"))
    assert (late.status, late.code) == (409, "INVALID_STATE_TRANSITION")
    early = error_of(lambda: ops.record_enrollment(pid, "nobody", "2026-01-10"))
    assert (early.status, early.code) == (404, "MEMBER_NOT_FOUND")
    client.upsert_member(person("ny-2", state=RESTRICTED))
    refused = error_of(lambda: ops.record_enrollment(pid, "ny-2", "2026-01-10"))
    assert (refused.status, refused.code, refused.details["rule"]) == (422, "NOT_ELIGIBLE", "state_allowed")
    no_kit = error_of(lambda: ops.record_kit_order(pid, "ny-2", "2026-01-11"))
    assert (no_kit.status, no_kit.code) == (404, "ENROLLMENT_NOT_FOUND")
    bad = error_of(lambda: ops.record_result(pid, "e-1", "2026-01-22", "QQ"))
    assert bad.code == "VALIDATION_ERROR"

    # scopes: partners never reach the operations side, and operators hold nothing else
    denied = error_of(lambda: client.record_enrollment(pid, "e-1", "2026-01-10"))
    assert (denied.status, denied.code) == (403, "AUTH_INSUFFICIENT_SCOPE")
    assert error_of(lambda: ops.get_enrollment("e-1")).code == "AUTH_INSUFFICIENT_SCOPE"


def test_reminders_queue_and_refuse(server: LiveServer) -> None:
    """202 with an id and send time; 400 already enrolled; 404 unknown or ineligible; idempotent retries."""
    client, ops = partner(server), operator(server)
    pid = client.client_id.removeprefix("partner_")
    client.upsert_member(person("r-1"))
    queued = client.send_reminder("r-1", "Don't forget to enroll in your free genetic testing benefit!")
    assert client.last_response is not None
    assert client.last_response.status_code == 202
    assert (queued.status, queued.partner_member_id) == ("queued", "r-1")
    uuid.UUID(queued.reminder_id)
    sent_at = datetime.fromisoformat(queued.estimated_send_time.replace("Z", "+00:00"))
    assert sent_at > datetime.now(UTC)  # the default send delay is five minutes
    key = str(uuid.uuid4())
    first = client.send_reminder("r-1", "Reminder with a key", idempotency_key=key)
    assert client.send_reminder("r-1", "Reminder with a key", idempotency_key=key).reminder_id == first.reminder_id

    ops.record_enrollment(pid, "r-1", "2026-01-10")
    enrolled = error_of(lambda: client.send_reminder("r-1", "Enroll!"))
    assert (enrolled.status, enrolled.code, enrolled.message) == (
        400,
        "REMINDER_NOT_APPLICABLE",
        "Policyholder already enrolled",
    )
    assert enrolled.details["partner_member_id"] == "r-1"
    assert client.send_reminder("r-1", "Your kit is on its way", reminder_type="kit").status == "queued"
    unknown = error_of(lambda: client.send_reminder("ghost", "Enroll!"))
    assert (unknown.status, unknown.code) == (404, "MEMBER_NOT_ELIGIBLE")
    client.upsert_member(person("ny-3", state=RESTRICTED))
    ineligible = error_of(lambda: client.send_reminder("ny-3", "Enroll!"))
    assert (ineligible.status, ineligible.code, ineligible.details["rule"]) == (
        404,
        "MEMBER_NOT_ELIGIBLE",
        "state_allowed",
    )
    empty = error_of(lambda: client.send_reminder("r-1", "", reminder_type="kit"))
    assert empty.code == "VALIDATION_ERROR"


def populate(client: LedgerClient, ops: LedgerClient, prefix: str, count: int, result: str = "MZ") -> str:
    """``count`` members through to a delivered result on 2026-01-20, with NPS and actions; their partner id."""
    pid = client.client_id.removeprefix("partner_")
    for index in range(count):
        pmid = f"{prefix}-{index}"
        client.upsert_member(person(pmid))
        ops.record_enrollment(pid, pmid, "2026-01-10")
        ops.record_kit_order(pid, pmid, "2026-01-11")
        ops.record_sample(pid, pmid, "2026-01-15", "2026-01-20")
        ops.record_result(pid, pmid, "2026-01-20", result if index else "ZZ")
        ops.record_nps(pid, pmid, 10 if index % 4 else 3, "overall")
        ops.record_action(pid, pmid, "doctor_visit")
    return pid


def test_outcomes_metrics_suppression_and_errors(server: LiveServer) -> None:
    """Figures per the seed's feed; counts below 11 are null and listed; period and partner checks."""
    client, ops = partner(server), operator(server)
    pid = populate(client, ops, "o", 12)
    today = datetime.now(UTC).date()
    report = client.get_outcomes("2026-01-01", month_end(today).isoformat(), partner_id=pid)
    metrics = report.metrics
    assert (report.partner_id, report.period_start, report.suppression_threshold) == (pid, "2026-01-01", 11)
    assert (metrics.eligible_members, metrics.enrolled_members, metrics.tests_completed) == (12, 12, 12)
    assert (metrics.enrollment_rate, metrics.mz_detected, metrics.mz_detection_rate) == (1.0, 11, 0.9167)
    assert metrics.zz_detected is None  # one ZZ: suppressed
    assert "zz_detected" in report.suppressed
    assert metrics.nps_overall == 50  # 9 promoters, 3 detractors of 12
    assert metrics.action_rate_doctor_visit == 1.0
    assert metrics.action_rate_smoking_cessation == 0.0
    assert metrics.projected_savings_5yr is None  # computed from the suppressed ZZ count
    assert metrics.cost_per_mz == round(12 * 350 / 11)
    january = client.get_outcomes("2026-01-01", "2026-01-31")  # the members were registered later
    assert (january.metrics.eligible_members, january.metrics.enrolled_members) == (0, 12)
    assert (january.metrics.tests_completed, january.metrics.mz_detected, january.metrics.enrollment_rate) == (
        12,
        11,
        None,  # no eligible member at the end of January: the rate is undefined
    )

    assert error_of(lambda: client.get_outcomes("2026-01-01", "2026-01-31", partner_id="someone_else")).status == 403
    backwards = error_of(lambda: client.get_outcomes("2026-02-01", "2026-01-01"))
    assert (backwards.status, backwards.code) == (400, "VALIDATION_ERROR")
    assert error_of(lambda: client.get_outcomes("2026-13-01", "2026-01-01")).code == "VALIDATION_ERROR"
    # whole months only: otherwise two answers could differ by one person's result
    misaligned = error_of(lambda: client.get_outcomes("2026-01-02", "2026-01-31"))
    assert (misaligned.status, misaligned.details["field"]) == (400, "start_date")
    assert error_of(lambda: client.get_outcomes("2026-01-01", "2026-01-30")).details["field"] == "end_date"
    assert error_of(lambda: ops.get_outcomes("2026-01-01", "2026-01-31")).code == "AUTH_INSUFFICIENT_SCOPE"


def test_nothing_a_partner_sees_holds_a_result_or_personal_plaintext(server: LiveServer) -> None:
    """Every byte of the partner's responses (its audit log included) and of the server log is searched."""
    recorder = Recorder()
    client, ops = partner(server, recorder), operator(server)
    pid = populate(client, ops, "priv", 12)
    client.send_reminder("priv-1", "Kit for Zebulon Quixoteworth", reminder_type="kit")
    ops.record_action(pid, "priv-2", "smoking_cessation")
    ops.record_action(pid, "priv-3", "family_testing")
    for pmid in ("priv-0", "priv-1", "priv-5"):
        client.check_eligibility(pmid)
        client.get_enrollment(pmid)
    client.get_outcomes("2026-01-01", month_end(datetime.now(UTC).date()).isoformat())
    entries = list(client.iter_audit_logs(page_size=100))
    assert {"member.registered", "enrollment.result_delivered", "reminder.queued"} <= {e.type for e in entries}
    assert all(e.payload.get("result_type") is None or "sealed" in e.payload["result_type"] for e in entries)

    def sizes(event_type: str, field: str) -> set[int]:
        return {len(e.payload[field]["sealed"]["ct"]) for e in entries if e.type == event_type}

    # MM/MZ/ZZ and three different actions: every ciphertext of a field has the same length (padding)
    assert len(sizes("enrollment.result_delivered", "result_type")) == 1
    assert len(sizes("enrollment.action_reported", "action")) == 1

    seen = b"\n".join(recorder.bodies) + server.log_path.read_bytes()
    needles = [b"Zebulon", b"Quixoteworth", b"1979-11-23", b"quixoteworth.example", b'"MZ"', b'"ZZ"']
    needles += [b'"doctor_visit"', b'"smoking_cessation"', b'"family_testing"']
    for needle in needles:
        assert needle not in seen, needle
    assert pid.encode() in seen  # the search did look at the partner's own data
