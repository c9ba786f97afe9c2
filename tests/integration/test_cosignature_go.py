"""Our cosigned notes read by Go: golang.org/x/mod/sumdb/note opens the note (the log's signature) and a
tiny Go program (tests/data/go/cosignature_check.go) checks the cosignature/v1 line from the spec alone.

Needs ``go`` and Debian's golang-golang-x-mod-dev (installed by .ci/run); skipped without them unless
``LEDGER_REQUIRE_GO=1``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from proofs.checkpoint import Checkpoint, signed_checkpoint
from proofs.cosignature import generate_cosigner, note_body
from proofs.note import generate_signer

DATA = Path(__file__).parents[1] / "data"
GOPATH = Path("/usr/share/gocode")


def _go() -> str:
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/golang.org/x/mod/sumdb/note").is_dir():
        if os.environ.get("LEDGER_REQUIRE_GO") == "1":
            pytest.fail("go and golang-golang-x-mod-dev are required (LEDGER_REQUIRE_GO=1)")
        pytest.skip("go or golang-golang-x-mod-dev not installed")
    return go


def _check(go: str, tmp_path: Path, note: str, log_vkey: str, witness_vkey: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "note.txt"
    path.write_text(note, encoding="utf-8")
    env = os.environ | {"GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(tmp_path / "gocache")}
    program = DATA / "go" / "cosignature_check.go"
    return subprocess.run(
        [go, "run", str(program), str(path), log_vkey, witness_vkey],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )


def test_go_verifies_the_checked_in_vector(tmp_path: Path) -> None:
    go = _go()
    vectors = json.loads((DATA / "cosignature_vectors.json").read_text(encoding="utf-8"))
    result = _check(go, tmp_path, vectors["cosignedNote"], vectors["logVkey"], vectors["witnessVkey"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "witness.example.com/w1", str(vectors["timestamp"])]


def test_go_verifies_a_fresh_cosignature_and_refuses_a_tampered_one(tmp_path: Path) -> None:
    go = _go()
    log, witness = generate_signer("proveniq-ledger/test"), generate_cosigner("witness.test/w1")
    note = signed_checkpoint(Checkpoint(log.name, 42, bytes(range(32))), log)
    timestamp = int(time.time())
    cosigned = note + witness.cosign(note_body(note), timestamp)
    ok = _check(go, tmp_path, cosigned, log.verifier().vkey, witness.verifier().vkey)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split() == ["ok", "witness.test/w1", str(timestamp)]
    other = generate_cosigner("witness.test/w1")
    refused = _check(go, tmp_path, cosigned, log.verifier().vkey, other.verifier().vkey)
    assert refused.returncode == 1
    assert "no cosignature" in refused.stderr
