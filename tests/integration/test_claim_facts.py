"""The ClaimFacts port on real storage (SQLite and PostgreSQL): log-derived facts, several readers, replay."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.clock import SteppingClock

from adapters.memory.claim_facts import LogDerivedClaimFacts
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.claims.facts import ClaimFactsIndex, FactsQuery
from ledger_core.claims.replay import replay_log
from ledger_core.claims.submission import validate_submission
from ledger_core.claims.verification import ClaimVerificationService
from ledger_core.ledger import Ledger
from ledger_core.shared.vocabulary import ClaimStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACME, RIVAL = "acme_mutual", "rival_claims"


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


def sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def register(ledger: Ledger, partner: str, label: str, **metadata: str) -> str:
    digest = sha(label)
    ledger.documents.register(
        partner_id=partner,
        sha256=digest,
        document_type="photo",
        media_type="image/jpeg",
        size_bytes=3,
        metadata=metadata,
    )
    return digest


def claim(partner: str, reference: str, amount: str, *hashes: str, policy: str | None = None) -> Any:
    metadata = {} if policy is None else {"policyReference": policy}
    return validate_submission(
        partner_id=partner,
        partner_claim_id=reference,
        claim_type="auto",
        claim_amount=amount,
        currency="USD",
        submitted_at="2026-03-01T09:00:00Z",
        documents=[{"type": "photo", "hash": digest, "metadata": metadata} for digest in hashes],
        verification_level="enhanced",
    )


def query(partner: str, claim_id: str, *hashes: str, policy: str | None = None) -> FactsQuery:
    return FactsQuery(
        claim_id=claim_id,
        partner_id=partner,
        claim_type="auto",
        currency="USD",
        hashes=hashes,
        reference=None if policy is None else ("policyReference", policy),
        submitted_at="2026-03-01T09:00:00Z",
        history_size=200,
        velocity_window_seconds=30 * 86_400,
    )


def rebuilt(ledger: Ledger) -> ClaimFactsIndex:
    index = ClaimFactsIndex()
    for envelope in ledger.entries():
        index.feed(envelope.position, envelope.type, envelope.aggregate_id, envelope.partner_id, envelope.payload)
    return index


def test_facts_follow_the_log_and_match_an_index_rebuilt_from_it(ledger: Ledger, clock: SteppingClock) -> None:
    """Answers are as of the log size; a second reader (another process) sees the same; replay matches."""
    facts = LogDerivedClaimFacts(ledger.app.log_reader, chunk=3)  # small chunks: several reads per catch-up
    service = ClaimVerificationService(ledger.app, facts, clock)
    shared = register(ledger, ACME, "shared photo")
    register(ledger, RIVAL, "shared photo")
    for number in range(25):
        digest = register(ledger, ACME, f"photo {number}", policyReference="POL-1" if number < 3 else "POL-X")
        policy = "POL-1" if number < 3 else None
        result = service.submit(claim(ACME, f"A-{number}", f"{1000 + number}.00", digest, policy=policy))
        assert result.created
    first = service.submit(claim(RIVAL, "R-1", "900.00", shared))
    assert first.claim.status is ClaimStatus.VERIFIED
    second = service.submit(claim(ACME, "A-reuse", "1010.00", shared))
    assert second.claim.status is ClaimStatus.FLAGGED
    outlier = service.submit(claim(ACME, "A-big", "95000.00", register(ledger, ACME, "big")))
    assert outlier.claim.verifications[-1].factors == ("amount_outlier",)

    probe = query(ACME, "00000000-0000-0000-0000-000000000000", shared, policy="POL-1")
    answer = facts.snapshot(probe)
    assert answer.as_of == ledger.size()
    assert answer == rebuilt(ledger).snapshot(probe)
    assert answer.usage[shared].other_claims == 2
    assert answer.usage[shared].other_partner_claims == 1
    assert answer.reference_claims == 3
    assert len(answer.amounts) == 27

    other_reader = LogDerivedClaimFacts(ledger.app.log_reader)
    assert other_reader.snapshot(probe) == answer
    assert ledger.claim_facts.snapshot(probe) == answer  # the ledger's own (memory unless LEDGER_CLAIM_FACTS=table)
    assert sorted(ledger.claim_facts.claims_listing(ACME, shared)) == [str(second.claim.id)]
    assert sorted(other_reader.claims_listing(ACME, shared)) == [str(second.claim.id)]
    checks = replay_log(ledger.entries())
    assert len(checks) == 28
    assert all(check.matches for check in checks)


def test_a_reader_sees_claims_written_through_another_ledger(config: StorageConfig, clock: SteppingClock) -> None:
    """Two ledgers on one database (two workers): each one's facts include the other's claims."""
    with open_ledger(config, clock=clock) as first, open_ledger(config, clock=clock) as second:
        facts_first = LogDerivedClaimFacts(first.app.log_reader)
        facts_second = LogDerivedClaimFacts(second.app.log_reader)
        reused = register(first, ACME, "twice")
        register(second, RIVAL, "twice")
        ClaimVerificationService(first.app, facts_first, clock).submit(claim(ACME, "W1-1", "500.00", reused))
        result = ClaimVerificationService(second.app, facts_second, clock).submit(
            claim(RIVAL, "W2-1", "500.00", reused)
        )
        latest = result.claim.verifications[-1]
        assert result.claim.status is ClaimStatus.FLAGGED
        assert latest.inputs["documents"][0]["otherPartners"] == "some"
        assert facts_first.catch_up() == facts_second.catch_up() == second.size()
