"""``ledger proof verify`` and ``ledger audit verify`` through the real console script, on hostile files.

The fuzz tests in ``test_parsers.py`` drive the same parsing functions with thousands of inputs; these
few cases check the last step: whatever the file holds, the command exits 2 (an input error, docs/cli.md
"Errors and exit codes") with one ``CODE: message`` line on stderr, never a traceback (issue 18 item 14b).
A valid file is accepted, so the invocation itself is right.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.signed_log import TREE, VKEY

LEDGER = Path(sys.executable).with_name("ledger")  # the console script of this environment

HOSTILE = {
    "deeply nested": b"[" * 5000,
    "not UTF-8": b'{"leafIndex": \xff}',
    "a truncated valid document": TREE.bundle()[:300],
}


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LEDGER), *args], capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checkpoint") / "checkpoint.txt"
    path.write_text(TREE.notes[len(TREE.entries)], encoding="utf-8")
    return path


def assert_one_line_refusal(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert "Traceback" not in result.stderr, result.stderr[-500:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].split(":", 1)[0] in {"MALFORMED_PROOF", "MALFORMED_BUNDLE", "FILE_ERROR"}, result.stderr


@pytest.mark.parametrize("content", list(HOSTILE.values()), ids=list(HOSTILE))
def test_proof_verify_refuses_a_hostile_file_in_one_line(tmp_path: Path, checkpoint: Path, content: bytes) -> None:
    proof = tmp_path / "proof.json"
    proof.write_bytes(content)
    assert_one_line_refusal(ledger("proof", "verify", str(proof), "--checkpoint", str(checkpoint), "--vkey", VKEY))


@pytest.mark.parametrize("content", list(HOSTILE.values()), ids=list(HOSTILE))
def test_audit_verify_refuses_a_hostile_file_in_one_line(tmp_path: Path, content: bytes) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(content)
    assert_one_line_refusal(ledger("audit", "verify", str(bundle), "--vkey", VKEY))


def test_the_valid_documents_verify(tmp_path: Path, checkpoint: Path) -> None:
    proof, bundle = tmp_path / "proof.json", tmp_path / "bundle.json"
    proof.write_bytes(TREE.inclusion(2))
    bundle.write_bytes(TREE.bundle())
    verified = ledger("proof", "verify", str(proof), "--checkpoint", str(checkpoint), "--vkey", VKEY)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["valid"] is True
    audited = ledger("audit", "verify", str(bundle), "--vkey", VKEY)
    assert audited.returncode == 0, audited.stderr
    assert json.loads(audited.stdout)["entries"] == len(TREE.entries)
