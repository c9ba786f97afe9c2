"""Historical claims import on real storage (SQLite and PostgreSQL): results with proofs, bad lines, idempotence.

Every proof in a results file is checked with nothing but the 40-line hashlib verifier of docs/proofs.md,
against the header's checkpoint once its signature is checked with the log's verifier key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest
from support.ledgers import CLAIMS_NOW, CLAIMS_PARTNER, PHOTO, historical_claim
from support.results_files import check_every_proof, read_results

from adapters.batch.processing import process_claims_file
from adapters.opening import open_audit_log, seal_pending, verifier_key
from adapters.storage import StorageConfig
from ledger_core.claims.batch import importing
from ledger_core.claims.batch.claim_rows import claim_states, claim_views, rows_reader
from ledger_core.claims.batch.claims_file import ClaimsFileStatus, claims_file_id
from ledger_core.claims.batch.formats import BatchFileRejected, LineOutcome
from ledger_core.claims.batch.lines import PartnerView
from ledger_core.claims.claim import Claim
from ledger_core.claims.submission import ClaimSubmission, validate_submission
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.ledger import Ledger
from ledger_core.shared.service_support import save

NOW = CLAIMS_NOW
P = CLAIMS_PARTNER
claim = historical_claim


def plain_claim(partner_claim_id: str, amount: str, partner_id: str = P) -> ClaimSubmission:
    """A claim without documents at level standard, as the API would take it."""
    return validate_submission(
        partner_id=partner_id,
        partner_claim_id=partner_claim_id,
        claim_type="auto",
        claim_amount=amount,
        currency="USD",
        submitted_at="2025-01-01T00:00:00Z",
        documents=[],
        verification_level="standard",
    )


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines))
    return path


def run(ledger: Ledger, config: StorageConfig, path: Path, out: Path, **kwargs: Any) -> Any:
    def covering(size: int) -> CheckpointRecord:
        record = seal_pending(config)
        assert record is not None
        assert record.size >= size
        return record

    with open_audit_log(config) as audit:
        return process_claims_file(ledger, audit, path, out, checkpoint_covering=covering, **kwargs)


def test_a_file_imports_with_proofs_and_reports_every_bad_line(
    ledger: Ledger, config: StorageConfig, tmp_path: Path
) -> None:
    existing = plain_claim("H-90000", "10.00")
    ledger.claims.submit(existing)
    conflicting = plain_claim("H-90001", "10.00")
    ledger.claims.submit(conflicting)
    lines: list[Any] = [claim(i) for i in range(12)]
    lines += [
        claim(100, claimAmount=100.5),  # a JSON float
        claim(101, claimAmount="10.123"),  # too many decimals for USD
        b'{"partnerClaimId": "H-00102", ',  # not JSON
        claim(103, documents=[{"type": "photo", "hash": "ab" * 32}]),  # unknown document
        claim(3),  # a duplicate within the file
        {
            "partnerClaimId": "H-90000",
            "claimType": "auto",
            "claimAmount": "10.00",
            "currency": "USD",
            "submittedAt": "2025-01-01T00:00:00Z",
            "documents": [],
            "verificationLevel": "standard",
        },
        {
            "partnerClaimId": "H-90001",
            "claimType": "auto",
            "claimAmount": "11.00",
            "currency": "USD",
            "submittedAt": "2025-01-01T00:00:00Z",
            "documents": [],
            "verificationLevel": "standard",
        },
        claim(104, partnerId="other"),  # another partner's claim
        b'{"partnerClaimId": "H-00105", "partnerClaimId": "H-00106"}',  # duplicate keys
        claim(107, claimType="boat"),
    ]
    path = write_jsonl(tmp_path / "in" / f"claims_{P}_20260115.jsonl", lines)

    outcome = run(ledger, config, path, tmp_path / "out", default_level="standard")

    assert outcome.report.status is ClaimsFileStatus.COMPLETED
    header, results = read_results(outcome.results_path)
    by_line = {result["line"]: result for result in results}
    assert [by_line[n]["outcome"] for n in range(1, 13)] == ["imported"] * 12
    expected = {
        13: ("invalid", "claimAmount"),
        14: ("invalid", "claimAmount"),
        15: ("invalid", None),
        16: ("unknown_document", "documents[0].hash"),
        17: ("duplicate_in_file", None),
        18: ("already_in_ledger", None),
        19: ("conflict", None),
        20: ("invalid", "partnerId"),
        21: ("invalid", "partnerClaimId"),
        22: ("invalid", "claimType"),
    }
    for number, (kind, field) in expected.items():
        assert by_line[number]["outcome"] == kind, by_line[number]
        assert by_line[number].get("field") == field, by_line[number]
    assert header["counts"] == {
        "already_in_ledger": 1,
        "conflict": 1,
        "duplicate_in_file": 1,
        "imported": 12,
        "invalid": 6,
        "unknown_document": 1,
    }
    assert check_every_proof(header, results, verifier_key(config)) == 13
    assert all(by_line[n]["status"] for n in range(1, 13))
    assert {r["riskLevel"] for r in results if r["outcome"] == "imported"} <= {"low", "medium", "high", "critical"}
    assert ledger.claims.get_by_reference(P, "H-00003").partner_claim_id == "H-00003"
    assert ledger.verify().size == ledger.size()


def test_the_same_file_twice_records_nothing(ledger: Ledger, config: StorageConfig, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in" / f"claims_{P}_20260116.jsonl", [claim(i) for i in range(5)])
    first = run(ledger, config, path, tmp_path / "out")
    size = ledger.size()
    second = run(ledger, config, path, tmp_path / "out")
    assert ledger.size() == size
    assert second.report.counts == first.report.counts == {LineOutcome.IMPORTED: 5}
    _, results = read_results(second.results_path)
    assert [r["outcome"] for r in results] == ["imported"] * 5


def test_the_results_of_many_chunks_are_read_a_few_entries_at_a_time(
    ledger: Ledger, config: StorageConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 3 lines, the file's entries read 2 at a time: every line's result once, in line order."""
    monkeypatch.setattr(importing, "RESULT_ROWS_PAGE", 2)
    ledger.batches.chunk_size = 3
    path = write_jsonl(tmp_path / "in" / f"claims_{P}_20260119.jsonl", [claim(i) for i in range(14)])
    outcome = run(ledger, config, path, tmp_path / "out")
    results = list(ledger.batches.results(P, outcome.report.digest))
    assert [(result.line, result.outcome) for result in results] == [(n, LineOutcome.IMPORTED) for n in range(1, 15)]
    header, lines = read_results(outcome.results_path)
    assert [line["line"] for line in lines] == list(range(1, 15))
    assert check_every_proof(header, lines, verifier_key(config)) == 14


def test_csv_with_documents_column(ledger: Ledger, config: StorageConfig, tmp_path: Path) -> None:
    path = tmp_path / "in" / f"claims_{P}_20260117.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "partnerClaimId,claimType,claimAmount,currency,submittedAt,verificationLevel,documents\r\n"
        f"C-1,auto,10.50,USD,2025-06-01T10:00:00Z,full,photo:{PHOTO}\r\n"
        "C-2,auto,1e3,USD,2025-06-01T10:00:00Z,,\r\n"
        "C-3,property,99,USD,2025-06-01T10:00:00Z,,\r\n",
        encoding="utf-8",
    )
    outcome = run(ledger, config, path, tmp_path / "out")
    _, results = read_results(outcome.results_path)
    assert [(r["line"], r["outcome"]) for r in results] == [(2, "imported"), (3, "invalid"), (4, "imported")]
    assert results[1]["field"] == "claimAmount"


@pytest.mark.parametrize(
    ("content", "rejection"),
    [
        (b"", "empty_file"),
        (b"partnerClaimId,claimTyp,claimAmount,currency,submittedAt\r\n", "header_mismatch"),
        (
            "partnerClaimId,claimType,claimAmount,currency,submittedAt\r\nC-1,auto,10,USD,caf\xe9\r\n".encode(
                "latin-1"
            ),
            "not_utf8",
        ),
    ],
    ids=["empty", "header", "latin1"],
)
def test_a_file_rejected_whole_loads_nothing(
    ledger: Ledger, config: StorageConfig, tmp_path: Path, content: bytes, rejection: str
) -> None:
    path = tmp_path / "in" / f"claims_{P}_20260118.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    size = ledger.size()
    outcome = run(ledger, config, path, tmp_path / "out")
    assert outcome.report.status is ClaimsFileStatus.REJECTED
    assert outcome.report.rejection == rejection
    header, results = read_results(outcome.results_path)
    assert header["rejection"] == rejection
    assert results == []
    assert ledger.size() == size + 1  # the rejection itself, nothing of the file


def test_a_bad_file_name_is_refused(ledger: Ledger, config: StorageConfig, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in" / "claims.jsonl", [claim(1)])
    with pytest.raises(BatchFileRejected, match="file name"):
        run(ledger, config, path, tmp_path / "out")


def test_bulk_verification_reports_each_claim_and_leaks_nothing(
    ledger: Ledger, config: StorageConfig, tmp_path: Path
) -> None:
    imported = run(
        ledger, config, write_jsonl(tmp_path / "in" / f"claims_{P}_20260120.jsonl", [claim(1)]), tmp_path / "o"
    )
    decided_id = read_results(imported.results_path)[1][0]["claimId"]
    recorded_only = Claim.from_submission(plain_claim("R-1", "20.00"))
    save(ledger.app, recorded_only)  # recorded without a verification (library use): open for one
    ledger.partners.register(partner_id="other", name="Other", category="insurance_carrier", tier="standard", scopes=[])
    theirs = ledger.claims.submit(plain_claim("T-1", "20.00", partner_id="other"))
    lines = [
        {"claimId": decided_id},
        {"partnerClaimId": "R-1"},
        {"claimId": str(theirs.claim.id)},  # another partner's claim: not found, like an unknown one
        {"claimId": str(uuid4())},
        {"partnerClaimId": "T-1"},
        {"claimId": "not-a-uuid"},
        {"claimId": decided_id, "partnerClaimId": "H-00001"},
    ]
    path = write_jsonl(tmp_path / "in" / f"verify_{P}_20260121.jsonl", lines)
    before = ledger.size()

    outcome = run(ledger, config, path, tmp_path / "out")

    header, results = read_results(outcome.results_path)
    assert [r["outcome"] for r in results] == [
        "decided",
        "reverified",
        "not_found",
        "not_found",
        "not_found",
        "invalid",
        "invalid",
    ]
    assert results[2] == {"line": 3, "outcome": "not_found", "reason": "no such claim", "field": None}
    assert results[2].keys() == results[3].keys()  # nothing tells another partner's claim from a missing one
    assert check_every_proof(header, results, verifier_key(config)) == 2
    recorded = [e for e in ledger.history(recorded_only.id) if e.position >= before]
    assert [e.type for e in recorded] == ["claim.verification_recorded"]


def test_reconciliation_reports_every_difference_and_is_recorded(
    ledger: Ledger, config: StorageConfig, tmp_path: Path
) -> None:
    imported = write_jsonl(tmp_path / "in" / f"claims_{P}_20260122.jsonl", [claim(i, documents=[]) for i in range(4)])
    run(ledger, config, imported, tmp_path / "o")
    statuses = {
        r["partnerClaimId"]: r["status"] for r in read_results(tmp_path / "o" / f"claims_{P}_20260122.results.jsonl")[1]
    }
    listed = tmp_path / "in" / f"reconcile_{P}_20260123.csv"
    listed.write_text(
        "partnerClaimId,claimAmount,currency,status\n"
        f"H-00000,100.25,USD,{statuses['H-00000']}\n"  # matches
        f"H-00001,999.00,USD,{statuses['H-00001']}\n"  # another amount
        "H-00002,102.25,USD,rejected\n"  # another status (the ledger's is not rejected)
        "H-77777,10.00,USD,verified\n"  # not in the ledger
        "H-00000,100.25,USD,verified\n"  # named twice
        "H-00005,ten,USD,verified\n",  # not an amount
        encoding="utf-8",
    )
    assert statuses["H-00002"] != "rejected"

    outcome = run(ledger, config, listed, tmp_path / "out")

    report = tmp_path / "out" / f"reconcile_{P}_20260123.report.jsonl"
    assert outcome.results_path == report
    header, findings = read_results(report)
    assert header["counts"] == {
        "duplicate_in_file": 1,
        "invalid": 1,
        "matched": 1,
        "mismatch": 2,
        "missing_in_ledger": 1,
        "unknown_to_partner": 1,
    }
    by_outcome = {(f["outcome"], f.get("partnerClaimId")): f for f in findings}
    assert by_outcome[("mismatch", "H-00001")]["fields"] == ["claimAmount"]
    assert by_outcome[("mismatch", "H-00001")]["ledger"]["claimAmount"] == "101.25"
    assert by_outcome[("mismatch", "H-00002")]["fields"] == ["status"]
    assert ("missing_in_ledger", "H-77777") in by_outcome
    assert by_outcome[("unknown_to_partner", "H-00003")]["line"] is None
    completed = [e for e in ledger.history(claims_file_id(P, header["sha256"])) if e.type == "claimsfile.completed"]
    assert completed[0].payload["report_sha256"] == hashlib.sha256(report.read_bytes()).hexdigest()
    written = report.read_bytes()
    again = run(ledger, config, listed, tmp_path / "out")  # reconciled before: nothing recorded again
    assert again.report.counts == outcome.report.counts
    assert report.read_bytes() == written
    assert (
        len([e for e in ledger.history(claims_file_id(P, header["sha256"])) if e.type == "claimsfile.completed"]) == 1
    )


def test_reconciliation_reads_each_status_event_and_ignores_the_file_order(
    ledger: Ledger, config: StorageConfig, tmp_path: Path
) -> None:
    """Claims moved by ``claim.status_changed`` and ``claim.review_resolved`` are read at their status (the
    rows' fold agrees with :func:`claim_states`), and a file listing the claims in another order than the log
    finds the same differences (its own line numbers) and the same unnamed claims, in the log's order."""
    claims = [Claim.from_submission(plain_claim(f"R-{number}", f"{10 + number}.50")) for number in range(5)]
    claims[1].change_status("pending")
    claims[2].change_status("flagged")
    claims[2].resolve_review(decision="rejected", reviewer="ops", notes="")
    claims[3].change_status("verified")
    save(ledger.app, *claims)
    ids = [str(c.id) for c in claims]
    reader = rows_reader(ledger.app.log_reader)
    states = claim_states(reader, ids)
    assert claim_views(reader, ids) == {i: PartnerView(s.amount, s.currency, s.status) for i, s in states.items()}
    assert [claim_views(reader, ids)[i].status.value for i in ids] == [
        "submitted",
        "pending",
        "rejected",
        "verified",
        "submitted",
    ]

    lines = ["R-0,10.50,USD,submitted", "R-1,11.50,USD,verified", "R-2,12.50,USD,rejected"]
    found = []
    (tmp_path / "in").mkdir()
    for day, listed in ((24, lines), (25, [lines[2], lines[0], lines[1]])):
        path = tmp_path / "in" / f"reconcile_{P}_202601{day}.csv"
        path.write_text("partnerClaimId,claimAmount,currency,status\n" + "\n".join(listed) + "\n", encoding="utf-8")
        header, findings = read_results(run(ledger, config, path, tmp_path / "out").results_path)
        found.append((header["counts"], findings))
    (counts, in_order), (shuffled_counts, shuffled) = found
    assert counts == shuffled_counts == {"matched": 2, "mismatch": 1, "unknown_to_partner": 2}
    assert [f["line"] for f in in_order if f["outcome"] == "mismatch"] == [3]
    assert [f["line"] for f in shuffled if f["outcome"] == "mismatch"] == [4]
    assert [f | {"line": None} for f in shuffled] == [f | {"line": None} for f in in_order]
    assert [(f["partnerClaimId"], f["ledger"]["status"]) for f in in_order if f["outcome"] == "unknown_to_partner"] == [
        ("R-3", "verified"),
        ("R-4", "submitted"),
    ]
