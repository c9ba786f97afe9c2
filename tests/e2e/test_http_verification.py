"""Claim verification through real HTTP (seed 000 §3.1, §5.2): levels, risk, re-triggering, review, explain."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.http_server import LiveServer, claim_body, servers
from typer.testing import CliRunner

from api.cli.main import app as cli_app
from api.client.ledger_client import LedgerApiError, LedgerClient


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend for this module."""
    yield from servers(request, tmp_path_factory, request.param)


def new_partner(server: LiveServer) -> tuple[str, LedgerClient]:
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    return partner_id, server.client(server.create_partner(partner_id))


def upload(client: LedgerClient, content: bytes, **metadata: str) -> dict[str, Any]:
    document = client.upload_document(content, document_type="photo", media_type="image/jpeg", metadata=metadata)
    return {"type": "photo", "hash": document.hash, "metadata": dict(metadata)}


def body(reference: str, documents: list[dict[str, Any]], level: str, amount: str = "1250.00") -> dict[str, Any]:
    return {**claim_body(reference, documents, amount=amount), "verificationLevel": level}


def test_enhanced_claim_gets_a_risk_assessment(server: LiveServer) -> None:
    """enhanced: an ordinary claim is verified with riskAssessment score 0, level low, no factors."""
    _, client = new_partner(server)
    result = client.submit_claim(body("E-1", [upload(client, uuid.uuid4().bytes)], "enhanced"))
    assert result.status == "verified"
    assert result.rule_set_version == "rules-v2"
    assert result.risk_assessment is not None
    assert (result.risk_assessment.score, result.risk_assessment.level) == (0, "low")
    assert result.risk_assessment.explanation == "No risk rule fired."
    events = client.claim_events(result.claim_id).data
    assert [e.type for e in events] == ["claim.submitted", "claim.verification_recorded"]
    assert events[1].position == events[0].position + 1  # one save


def test_document_reused_across_partners_is_flagged_and_explained(server: LiveServer) -> None:
    """The same photo in another partner's claim flags an enhanced claim; explain recomputes it from the log."""
    first_id, first = new_partner(server)
    _, second = new_partner(server)
    photo = b"staged collision " + uuid.uuid4().bytes
    first.submit_claim(body("R-1", [upload(first, photo)], "enhanced"))
    flagged = second.submit_claim(body("R-2", [upload(second, photo)], "enhanced"))
    assert flagged.status == "flagged"
    assert flagged.risk_assessment is not None
    assert flagged.risk_assessment.level == "high"
    assert flagged.risk_assessment.factors == ["document_reused"]
    assert flagged.risk_assessment.explanation == "1 document(s) also appear in claims of other partners."
    assert first_id not in json.dumps(second.claim_events(flagged.claim_id).data[-1].payload)

    explained = second.explain_claim(flagged.claim_id)
    assert explained.matches is True
    [check] = explained.verifications
    assert check.recomputed == check.recorded
    assert check.recorded["status"] == "flagged"
    assert check.rebuilt_inputs == check.recorded_inputs
    again = second.verify_claim(flagged.claim_id)  # flagged waits for a person: nothing new
    assert again.verification_id == flagged.verification_id


def test_a_hash_alone_cannot_probe_another_partners_documents(server: LiveServer) -> None:
    """Issue 18 item 8: a partner listing another partner's document by hash only (without uploading it)
    learns nothing about other partners, in the decision, the recorded inputs, the events or explain; once it
    uploads the document it learns only that some other partner's claim lists it (no count, no identity)."""
    first_id, first = new_partner(server)
    _, prober = new_partner(server)
    secret_photo = b"the other partner's photo " + uuid.uuid4().bytes
    for reference in ("P-1", "P-2"):
        first.submit_claim(body(reference, [upload(first, secret_photo)], "enhanced"))
    sha = hashlib.sha256(secret_photo).hexdigest()
    listed = [{"type": "photo", "hash": sha, "metadata": {}}]
    probe = prober.submit_claim(body("X-1", listed, "enhanced"))
    assert probe.status == "pending"
    assert probe.risk_assessment is None
    seen = json.dumps(
        [e.payload for e in prober.claim_events(probe.claim_id).data]
        + [v.recorded_inputs for v in prober.explain_claim(probe.claim_id).verifications]
    )
    assert '"otherPartners": "withheld"' in seen
    assert "otherPartnerClaims" not in seen
    assert '"otherClaims"' not in seen
    assert first_id not in seen

    upload(prober, secret_photo)  # possession proven: the claim re-verifies
    decided = prober.get_claim(probe.claim_id)
    assert decided.status == "flagged"
    assert decided.verifications[-1].explanation == "1 document(s) also appear in claims of other partners."
    inputs = prober.explain_claim(probe.claim_id).verifications[-1].recorded_inputs
    assert inputs["documents"][0]["otherPartners"] == "some"
    assert inputs["documents"][0]["ownOtherClaims"] == 0


def test_registering_the_missing_document_reverifies_the_claim(server: LiveServer) -> None:
    """A pending claim is verified as soon as its document is uploaded, without calling /verify."""
    _, client = new_partner(server)
    content = b"late photo " + uuid.uuid4().bytes
    digest = hashlib.sha256(content).hexdigest()
    pending = client.submit_claim(body("P-1", [{"type": "photo", "hash": digest, "metadata": {}}], "enhanced"))
    assert pending.status == "pending"
    assert pending.factors == [f"document_not_registered:{digest}"]
    client.upload_document(content, document_type="photo", media_type="image/png")
    view = client.get_claim(pending.claim_id)
    assert view.status == "verified"
    assert [v.status for v in view.verifications] == ["pending", "verified"]


def test_full_level_waits_for_an_operations_reviewer(server: LiveServer) -> None:
    """full: pending until the operations principal decides; partners cannot review; the decision is logged."""
    partner_id, client = new_partner(server)
    operator = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    result = client.submit_claim(body("F-1", [upload(client, uuid.uuid4().bytes)], "full"))
    assert result.status == "pending"
    assert result.explanation is not None
    assert result.explanation.endswith("Awaiting manual review.")

    with pytest.raises(LedgerApiError) as forbidden:
        client.review_claim(partner_id, result.claim_id, decision="verified")
    assert forbidden.value.status == 403
    _, stranger = new_partner(server)
    with pytest.raises(LedgerApiError) as elsewhere:
        operator.review_claim("some_other_partner", result.claim_id, decision="verified")
    assert elsewhere.value.status == 404
    with pytest.raises(LedgerApiError) as invalid:
        operator.review_claim(partner_id, result.claim_id, decision="flagged")
    assert invalid.value.status == 400

    decided = operator.review_claim(partner_id, result.claim_id, decision="rejected", notes="photos reused elsewhere")
    assert (decided.status, decided.partner_id) == ("rejected", partner_id)
    assert decided.proof is not None
    events = client.claim_events(result.claim_id).data
    assert events[-1].type == "claim.review_resolved"
    assert events[-1].payload["decision"] == "rejected"
    assert client.get_claim(result.claim_id).status == "rejected"
    with pytest.raises(LedgerApiError) as twice:
        operator.review_claim(partner_id, result.claim_id, decision="verified")
    assert (twice.value.status, twice.value.code) == (409, "INVALID_STATE_TRANSITION")
    assert operator.explain_partner_claim(partner_id, result.claim_id).matches is True
    with pytest.raises(LedgerApiError) as hidden:
        stranger.explain_claim(result.claim_id)
    assert hidden.value.status == 404


def test_velocity_burst_and_cli_explain(server: LiveServer) -> None:
    """A third claim on one policy within 30 days is flagged; ``ledger claims explain`` reproduces it."""
    _, client = new_partner(server)
    statuses = []
    for number in range(3):
        document = upload(client, uuid.uuid4().bytes, policyReference="POL-77")
        statuses.append(client.submit_claim(body(f"V-{number}", [document], "enhanced")))
    assert [s.status for s in statuses] == ["verified", "verified", "flagged"]
    assert statuses[-1].risk_assessment is not None
    assert statuses[-1].risk_assessment.factors == ["velocity_burst"]

    options = ["--data-dir", str(server.data_dir)]
    if server.database_url is not None:
        options += ["--database-url", server.database_url]
    outcome = CliRunner().invoke(cli_app, ["claims", "explain", statuses[-1].claim_id, *options])
    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.output)
    assert report["matches"] is True
    assert report["verifications"][0]["recorded"]["factors"] == ["velocity_burst"]
    review = ["claims", "review", statuses[-1].claim_id, "--decision", "verified", "--reviewer", "ops_cli"]
    reviewed = CliRunner().invoke(cli_app, [*review, "--notes", "same household, checked", *options])
    assert reviewed.exit_code == 0, reviewed.output
    assert json.loads(reviewed.output)["status"] == "verified"
    assert client.get_claim(statuses[-1].claim_id).status == "verified"
