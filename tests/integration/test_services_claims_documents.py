"""Claim and document service contracts on real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.clock import SteppingClock

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.claims.errors import DocumentConflict, DuplicateClaim
from ledger_core.claims.submission import ClaimSubmission, validate_submission
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.ledger import Ledger
from ledger_core.shared.vocabulary import ClaimStatus

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PARTNER = "acme_mutual"
OTHER = "beta_claims"
PHOTO = "ab" * 32
FORM = "cd" * 32


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> StorageConfig:
    return StorageConfig(tmp_path, database_url)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(NOW)


@pytest.fixture
def ledger(config: StorageConfig, clock: SteppingClock) -> Iterator[Ledger]:
    with open_ledger(config, clock=clock) as opened:
        yield opened


def submission(**overrides: Any) -> ClaimSubmission:
    fields: dict[str, Any] = {
        "partner_id": PARTNER,
        "partner_claim_id": "CLM-2026-0001",
        "claim_type": "auto",
        "claim_amount": "1250.5",
        "currency": "USD",
        "submitted_at": "2026-01-15T14:30:00+02:00",
        "documents": [{"type": "photo", "hash": PHOTO, "metadata": {"angle": "front"}}],
        "verification_level": "standard",
    }
    return validate_submission(**{**fields, **overrides})


def verification(status: str, **overrides: Any) -> dict[str, Any]:
    return {
        "status": status,
        "risk_score": 72,
        "risk_level": "high",
        "factors": ["amount_above_p95"],
        "explanation": "amount far above similar claims",
        "rule_set_version": "rules-2026.01",
        "inputs": {"amount_percentile": 97},
        **overrides,
    }


def test_submit_resubmit_duplicate_and_visibility(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """Identical resubmission (after normalization) is a no-op; a changed one is DuplicateClaim; other partners
    cannot see the claim. The submission is verified in the same save (its photo is not registered: pending)."""
    first = ledger.claims.submit(submission())
    assert (first.created, first.status, first.positions, first.head) == (True, "pending", (0, 1), 1)
    assert first.claim_id == derive_id("claim", PARTNER, "CLM-2026-0001")
    same = ledger.claims.submit(submission(claim_amount="1250.50", submitted_at="2026-01-15T12:30:00Z"))
    assert (same.created, same.positions, same.claim_id, same.head) == (False, (), first.claim_id, 1)
    with pytest.raises(DuplicateClaim) as duplicate:
        ledger.claims.submit(submission(claim_amount="1300", verification_level="full"))
    assert duplicate.value.code == "DUPLICATE_CLAIM"
    assert duplicate.value.differing_fields == ["claim_amount", "verification_level"]
    assert duplicate.value.details["partner_claim_id"] == "CLM-2026-0001"
    assert ledger.size() == 2
    entry, verification = ledger.entries()
    assert verification.type == "claim.verification_recorded"
    assert verification.payload["factors"] == [f"document_not_registered:{PHOTO}"]
    assert entry.payload["claim_amount"] == "1250.50"
    assert entry.payload["submitted_at"] == "2026-01-15T12:30:00.000000Z"
    assert entry.partner_id == PARTNER

    assert ledger.claims.get(first.claim_id, PARTNER).claim_amount_text == "1250.50"
    with pytest.raises(NotFound) as hidden:
        ledger.claims.get(first.claim_id, OTHER)
    assert hidden.value.details == {"kind": "claim", "id": str(first.claim_id)}
    with pytest.raises(NotFound):
        ledger.claims.get_by_reference(OTHER, "CLM-2026-0001")
    with pytest.raises(NotFound):
        ledger.claims.get(derive_id("claim", PARTNER, "nope"))
    other = ledger.claims.submit(submission(partner_id=OTHER))  # same reference, other partner: another claim
    assert other.created
    assert other.claim_id != first.claim_id
    with pytest.raises(InvalidCommand) as bad:
        submission(documents=[{"type": "photo", "hash": PHOTO}, {"type": "pdf", "hash": PHOTO}])
    assert bad.value.details["field"] == "documents[1].hash"

    with open_ledger(config, clock=clock) as reopened:
        claim = reopened.claims.get_by_reference(PARTNER, "CLM-2026-0001")
        assert (claim.status, claim.version, claim.documents[0].hash) == (ClaimStatus.PENDING, 2, PHOTO)
        assert reopened.claims.submit(submission()).positions == ()
        with pytest.raises(DuplicateClaim):
            reopened.claims.submit(submission(claim_type="property"))
        reopened.verify()


def test_view_reads_without_copying_and_sees_later_events(ledger: Ledger) -> None:
    """``view`` hands out the cached aggregate (no copy per read) and still fast-forwards to new events;
    ``get`` (for commands) is a private copy whose mutation never reaches the views."""
    first = ledger.claims.submit(submission())
    viewed = ledger.claims.view(first.claim_id, PARTNER)
    assert ledger.claims.view(first.claim_id, PARTNER) is viewed
    command_copy = ledger.claims.get(first.claim_id, PARTNER)
    assert command_copy is not viewed
    ledger.claims.change_status(first.claim_id, "verified", "documents checked by hand")
    assert ledger.claims.view(first.claim_id, PARTNER).status is ClaimStatus.VERIFIED
    assert command_copy.status is ClaimStatus.PENDING
    with pytest.raises(NotFound):
        ledger.claims.view(first.claim_id, OTHER)
    with pytest.raises(NotFound):
        ledger.claims.view(derive_id("claim", PARTNER, "nope"))


def test_verification_review_and_status_machine(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """pending -> flagged (verification) -> only a review can resolve it -> verified is terminal. (The submission's
    own verification left the claim pending: its photo is not registered.)"""
    claim_id = ledger.claims.submit(submission()).claim_id
    assert ledger.claims.change_status(claim_id, "pending", "awaiting documents").status == "pending"
    with pytest.raises(InvalidCommand) as unpaired:
        ledger.claims.record_verification(claim_id, **verification("flagged", risk_level=None))
    assert unpaired.value.details["field"] == "risk_level"
    flagged = ledger.claims.record_verification(claim_id, **verification("flagged"))
    assert flagged.status == "flagged"
    assert flagged.verification_id == str(derive_id("verification", str(claim_id), "4"))
    with pytest.raises(InvalidTransition):
        ledger.claims.change_status(claim_id, "verified")
    with pytest.raises(InvalidTransition):
        ledger.claims.record_verification(claim_id, **verification("verified"))
    with pytest.raises(InvalidTransition):
        ledger.claims.review(claim_id, decision="pending", reviewer="analyst_7", notes="")
    resolved = ledger.claims.review(claim_id, decision="verified", reviewer="analyst_7", notes="photos match")
    assert resolved.status == "verified"
    for status in ("rejected", "pending"):
        with pytest.raises(InvalidTransition):
            ledger.claims.change_status(claim_id, status)
    with pytest.raises(InvalidTransition):
        ledger.claims.review(claim_id, decision="rejected", reviewer="analyst_7", notes="")
    with pytest.raises(NotFound):
        ledger.claims.change_status(derive_id("claim", PARTNER, "nope"), "pending")
    assert [e.type for e in ledger.history(claim_id)] == [
        "claim.submitted",
        "claim.verification_recorded",
        "claim.status_changed",
        "claim.verification_recorded",
        "claim.review_resolved",
    ]
    with open_ledger(config, clock=clock) as reopened:
        claim = reopened.claims.get(claim_id, PARTNER)
        assert (claim.status, claim.is_terminal, claim.reviewed_by) == (ClaimStatus.VERIFIED, True, "analyst_7")
        _, recorded = claim.verifications
        assert (recorded.risk_score, recorded.inputs, recorded.factors) == (
            72,
            {"amount_percentile": 97},
            ("amount_above_p95",),
        )
        reopened.verify()


def test_documents_register_idempotent_and_conflict(
    ledger: Ledger, config: StorageConfig, clock: SteppingClock
) -> None:
    """Same hash and attributes: no-op; other attributes: DocumentConflict; each partner has its own record."""
    fields: dict[str, Any] = {
        "sha256": FORM,
        "document_type": "pdf",
        "media_type": "Application/PDF",
        "size_bytes": 2048,
        "metadata": {"pages": "3"},
    }
    created = ledger.documents.register(partner_id=PARTNER, **fields)
    assert (created.created, created.sha256, created.positions) == (True, FORM, (0,))
    again = ledger.documents.register(partner_id=PARTNER, **{**fields, "media_type": "application/pdf"})
    assert (again.created, again.positions, again.document_id) == (False, (), created.document_id)
    with pytest.raises(DocumentConflict) as conflict:
        ledger.documents.register(partner_id=PARTNER, **{**fields, "size_bytes": 4096, "metadata": {}})
    assert conflict.value.differing_fields == ["size_bytes", "metadata"]
    assert conflict.value.sha256 == FORM
    with pytest.raises(InvalidCommand) as media:
        ledger.documents.register(partner_id=PARTNER, **{**fields, "document_type": "photo"})
    assert media.value.details["field"] == "media_type"
    with pytest.raises(InvalidCommand) as upper:
        ledger.documents.register(partner_id=PARTNER, **{**fields, "sha256": FORM.upper()})
    assert upper.value.details["field"] == "sha256"
    theirs = ledger.documents.register(partner_id=OTHER, **fields)
    assert theirs.created
    assert theirs.document_id != created.document_id
    with pytest.raises(NotFound):
        ledger.documents.get(PARTNER, PHOTO)
    assert ledger.size() == 2
    with open_ledger(config, clock=clock) as reopened:
        document = reopened.documents.get(PARTNER, FORM)
        assert (document.media_type, document.size_bytes, document.metadata) == (
            "application/pdf",
            2048,
            {"pages": "3"},
        )
        assert reopened.documents.register(partner_id=PARTNER, **fields).positions == ()
        reopened.verify()
