"""``ledger claims explain`` and ``ledger claims review`` on real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from support.clock import SteppingClock
from typer.testing import CliRunner

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.cli.main import app as cli_app
from ledger_core.claims.submission import validate_submission
from ledger_core.engine.errors import InvalidTransition


def _options(tmp_path: Path, database_url: str) -> list[str]:
    return ["--data-dir", str(tmp_path), "--database-url", database_url]


def test_explain_matches_then_catches_a_decision_its_inputs_do_not_support(tmp_path: Path, database_url: str) -> None:
    """A recorded decision that its own inputs do not produce makes explain print the difference and exit 1."""
    config = StorageConfig(tmp_path, database_url)
    digest = hashlib.sha256(b"cli photo").hexdigest()
    with open_ledger(config, clock=SteppingClock()) as ledger:
        ledger.documents.register(
            partner_id="acme_mutual",
            sha256=digest,
            document_type="photo",
            media_type="image/png",
            size_bytes=9,
            metadata={},
        )
        submission = validate_submission(
            partner_id="acme_mutual",
            partner_claim_id="CLI-1",
            claim_type="auto",
            claim_amount="120.00",
            currency="USD",
            submitted_at="2026-01-10T10:00:00Z",
            documents=[{"type": "photo", "hash": digest, "metadata": {}}],
            verification_level="full",
        )
        claim = ledger.claims.submit(submission).claim
        assert claim.awaiting_review
        claim_id = str(claim.id)

    explained = CliRunner().invoke(cli_app, ["claims", "explain", claim_id, *_options(tmp_path, database_url)])
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.output)["matches"] is True

    with open_ledger(config, clock=SteppingClock()) as ledger:  # a writer that ignores what the rules say
        inputs = dict(ledger.claims.get(claim.id).verifications[-1].inputs)
        ledger.claims.record_verification(
            claim.id,
            status="verified",
            risk_score=0,
            risk_level="low",
            factors=[],
            explanation="looks fine",
            rule_set_version="rules-v1",
            inputs=inputs,
        )
    explained = CliRunner().invoke(cli_app, ["claims", "explain", claim_id, *_options(tmp_path, database_url)])
    assert explained.exit_code == 1
    report = json.loads(explained.output)
    assert report["matches"] is False
    first, second = report["verifications"]
    assert first["matches"] is True
    assert second["decisionMatches"] is False
    assert second["recomputed"]["status"] == "pending"
    assert second["recorded"]["status"] == "verified"


def test_review_needs_a_reviewable_claim(tmp_path: Path, database_url: str) -> None:
    """review refuses a claim that is neither flagged nor awaiting review (the console script exits 2)."""
    config = StorageConfig(tmp_path, database_url)
    with open_ledger(config, clock=SteppingClock()) as ledger:
        submission = validate_submission(
            partner_id="acme_mutual",
            partner_claim_id="CLI-2",
            claim_type="auto",
            claim_amount="120.00",
            currency="USD",
            submitted_at="2026-01-10T10:00:00Z",
            documents=[],
            verification_level="full",
        )
        claim_id = str(ledger.claims.submit(submission).claim.id)
    command = ["claims", "review", claim_id, "--decision", "verified", "--reviewer", "ops_cli"]
    outcome = CliRunner().invoke(cli_app, [*command, *_options(tmp_path, database_url)])
    assert outcome.exit_code != 0
    assert isinstance(outcome.exception, InvalidTransition)
