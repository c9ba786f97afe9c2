"""Erasure end to end, on both backends: the operations endpoint and ``ledger members erase`` destroy a member's
key; afterwards the member's plaintext and key are nowhere in the database (byte search of the SQLite files,
every PostgreSQL row), nothing can decrypt their data any more, and ``ledger verify`` and every proof of
their entries still pass."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from support.databases import execute, key_store_url
from support.http_server import LiveServer, servers
from support.storage_dump import database_dump, found

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.client.ledger_client import LedgerApiError, LedgerClient
from api.client.schemas.common import AuditProof
from ledger_core.members.errors import PersonalDataErased
from ledger_core.members.member import member_id, member_subject
from ledger_core.members.outcomes import month_end

SCOPES = ("audit:read", "eligibility:read", "eligibility:write", "enrollments:read", "outcomes:read", "reminders:write")
PEOPLE = {
    "era-api": ("Ottoline", "Vanderquist", "1971-03-09"),
    "era-cli": ("Bartholomew", "Xylander", "1968-07-30"),
    "era-keep": ("Keeper", "Staysworth", "1985-09-20"),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from servers(request, tmp_path_factory, request.param)


def ledger_cli(server: LiveServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``ledger ...`` as a user runs it, against the server's data directory and database."""
    return subprocess.run(
        [sys.executable, "-m", "api", *args], capture_output=True, text=True, env={**server.env, **env}, check=False
    )


def row(pmid: str) -> dict[str, Any]:
    first, last, born = PEOPLE[pmid]
    return {
        "partner_member_id": pmid,
        "email": f"{first.lower()}.{last.lower()}@erasure.example",
        "first_name": first,
        "last_name": last,
        "date_of_birth": born,
        "state": "IA",
        "policy_type": "Health",
    }


def proofs_of(client: LedgerClient, aggregate: str) -> list[AuditProof]:
    """Audit proofs of every entry of one aggregate (waiting for the sealer to cover them)."""
    positions = [entry.position for entry in client.iter_audit_logs(aggregate=aggregate)]
    assert positions
    proofs = []
    for position in positions:
        for _ in range(200):
            try:
                proofs.append(client.audit_proof(position))
                break
            except LedgerApiError as error:
                if error.code != "NOT_SEALED" and error.code != "CHECKPOINT_NOT_FOUND":
                    raise
                time.sleep(0.05)
        else:
            raise AssertionError(f"position {position} was never sealed")
    return proofs


def test_erasure_by_endpoint_and_cli_shreds_the_member_and_keeps_every_proof(server: LiveServer) -> None:
    """Erase one member over HTTP and one with the CLI; a third stays readable; the log and proofs verify."""
    credentials = server.create_partner(f"p_{uuid.uuid4().hex[:10]}", scopes=SCOPES)
    client = server.client(credentials)
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    pid = credentials.partner_id
    for pmid in PEOPLE:
        client.upsert_member(row(pmid))
        ops.record_enrollment(pid, pmid, "2026-01-10")
        ops.record_kit_order(pid, pmid, "2026-01-11")
        ops.record_sample(pid, pmid, "2026-01-12", "2026-01-18")
        ops.record_result(pid, pmid, "2026-01-18", "ZZ")
        ops.record_action(pid, pmid, "liver_function_test")
        client.send_reminder(pmid, f"Hello {PEOPLE[pmid][0]}, your counseling awaits", reminder_type="counseling")

    config = StorageConfig(server.data_dir, server.database_url)
    url = server.database_url or f"sqlite:///{config.sqlite_path()}"
    wrapped: dict[str, bytes] = {}
    for pmid in PEOPLE:
        [(key,)] = execute(
            key_store_url(url), "SELECT wrapped FROM subject_keys WHERE subject = ?", (member_subject(pid, pmid),)
        )
        wrapped[pmid] = bytes(key)
    needles = {
        pmid: [part.encode() for part in (*PEOPLE[pmid], row(pmid)["email"])] + [b'"ZZ"', b'"liver_function_test"']
        for pmid in PEOPLE
    }
    before = database_dump(config)
    assert all(found(before, key) for key in wrapped.values())  # positive control: the search sees the keys
    for pmid in PEOPLE:
        for needle in needles[pmid]:
            assert not found(before, needle), needle  # sealed from the start
    proofs_before = {pmid: proofs_of(client, str(member_id(pid, pmid))) for pmid in PEOPLE}
    report = client.get_outcomes("2026-01-01", month_end(datetime.now(UTC).date()).isoformat())
    assert report.metrics.eligible_members is None  # 3 < 11
    assert "eligible_members" in report.suppressed

    erased = ops.erase_member(pid, "era-api")
    assert (erased.keys_destroyed, len(erased.positions)) == (1, 1)
    assert ops.erase_member(pid, "era-api").positions == []  # erasing again records nothing
    done = ledger_cli(server, "members", "erase", pid, "era-cli")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["keys_destroyed"] == 1

    after = database_dump(config)
    for pmid in ("era-api", "era-cli"):
        assert not found(after, wrapped[pmid]), f"the wrapped key of {pmid} is still stored"
        for needle in needles[pmid]:
            assert not found(after, needle), needle
        with pytest.raises(LedgerApiError) as missing:
            client.check_eligibility(pmid)
        assert missing.value.code == "MEMBER_NOT_FOUND"
        with pytest.raises(LedgerApiError) as refused:
            ops.record_nps(pid, pmid, 8)
        assert (refused.value.status, refused.value.code) == (410, "PERSONAL_DATA_ERASED")
    assert found(after, wrapped["era-keep"])

    # Even with the master key and the whole database, the erased members' data cannot be opened.
    with open_ledger(config) as ledger:
        for pmid in ("era-api", "era-cli"):
            with pytest.raises(PersonalDataErased):
                ledger.members.reveal(pid, pmid)
            with pytest.raises(PersonalDataErased):
                ledger.enrollments.reveal_result(pid, pmid)
        assert ledger.members.reveal(pid, "era-keep")["first_name"] == "Keeper"
        assert ledger.enrollments.reveal_result(pid, "era-keep") == "ZZ"
        types = [envelope.type for envelope in ledger.history(member_id(pid, "era-api"))]
        assert types == ["member.registered", "member.personal_data_erased"]

    verified = ledger_cli(server, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    vkey = client.public_key()
    for pmid in PEOPLE:
        proofs = proofs_of(client, str(member_id(pid, pmid)))
        assert [p.entry for p in proofs[: len(proofs_before[pmid])]] == [p.entry for p in proofs_before[pmid]]
        for proof in proofs + proofs_before[pmid]:
            LedgerClient.verify_proof_offline(proof, vkey)
    # The erased members left the figures: only era-keep counts (threshold 1 shows every count).
    period = (pid, "--start", "2026-01-01", "--end", "2026-01-31")
    counted = ledger_cli(server, "outcomes", "show", *period, LEDGER_OUTCOME_SUPPRESSION_THRESHOLD="1")
    recomputed = ledger_cli(
        server, "outcomes", "show", *period, "--recompute", LEDGER_OUTCOME_SUPPRESSION_THRESHOLD="1"
    )
    assert counted.returncode == 0, counted.stderr
    metrics = json.loads(counted.stdout)["metrics"]
    assert (metrics["enrolled_members"], metrics["tests_completed"], metrics["zz_detected"]) == (1, 1, 1)
    assert json.loads(recomputed.stdout) == json.loads(counted.stdout)
    rebuilt = ledger_cli(server, "outcomes", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
