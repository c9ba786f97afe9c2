"""The proof commands end to end: seal, checkpoints, proofs, bundles; offline verification needs no database."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from support.ledgers import open_toy_ledger
from support.toy import Account, account_id
from typer.testing import CliRunner, Result

from api.cli.proofs import register

ROOT = Path(__file__).resolve().parents[2]


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def run(*args: str) -> Result:
    return CliRunner().invoke(cli(), list(args))


class Ledger:
    """A toy ledger of two partners, sealed by the CLI, with its files in ``home``."""

    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home
        self.db = ["--data-dir", str(home), "--database-url", url]
        ledger, _ = open_toy_ledger(url)
        with ledger:
            accounts = [Account.open("acme" if i % 3 else "zed", f"c{i}") for i in range(60)]
            ledger.app.save(*accounts)
            for account in accounts[:5]:
                account.note("more")
            ledger.app.save(*accounts[:5])
        sealed = run("seal", *self.db)
        assert sealed.exit_code == 0, sealed.output
        self.vkey = run("checkpoint", "vkey", "--data-dir", str(home)).stdout.strip()
        (home / "vkey").write_text(self.vkey + "\n")

    def file(self, name: str) -> Path:
        return self.home / name


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Ledger:
    return Ledger(database_url, tmp_path / "home")


def offline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the standalone CLI in a fresh process, no database configured, ``cwd`` as the data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "api.cli.proofs", *args, "--data-dir", str(cwd)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_bundle_export_and_offline_verify(ledger: Ledger, tmp_path: Path) -> None:
    """export writes the partner's entries with proofs; audit verify passes offline, warning unless pinned."""
    result = run("export", "--partner", "acme", "--out", str(ledger.file("acme.json")), *ledger.db)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entries"] == 43
    empty = tmp_path / "empty"
    empty.mkdir()
    unpinned = offline("audit", "verify", str(ledger.file("acme.json")), cwd=empty)
    assert unpinned.returncode == 0, unpinned.stderr
    summary = json.loads(unpinned.stdout)
    assert (summary["valid"], summary["pinned"], summary["entries"], summary["treeSize"]) == (True, False, 43, 65)
    assert "proves nothing" in summary["warning"]
    assert "proves nothing" in unpinned.stderr
    pinned = offline("audit", "verify", str(ledger.file("acme.json")), "--vkey", str(ledger.file("vkey")), cwd=empty)
    assert pinned.returncode == 0, pinned.stderr
    assert json.loads(pinned.stdout)["pinned"] is True
    assert list(empty.iterdir()) == []  # nothing created: no database, no key


def flip_entry(doc: dict[str, Any]) -> None:
    entry = doc["entries"][2]
    raw = bytearray(base64.b64decode(entry["entry"]))
    raw[30] ^= 0x01
    entry["entry"] = base64.b64encode(bytes(raw)).decode()


def flip_proof(doc: dict[str, Any]) -> None:
    path = doc["entries"][5]["inclusionPath"]
    path[0] = ("f" if path[0][0] != "f" else "e") + path[0][1:]


def flip_note(doc: dict[str, Any]) -> None:
    doc["checkpoint"] = doc["checkpoint"].replace("\n65\n", "\n64\n")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (flip_entry, "entry 2 (leafIndex 4): leaf hash mismatch"),
        (flip_proof, "entry 5 (leafIndex 8): inclusion proof does not verify"),
        (flip_note, "checkpoint: does not verify"),
    ],
)
def test_tampered_bundle_fails_with_a_clear_message(ledger: Ledger, tamper: Any, message: str) -> None:
    """A flipped byte in an entry, a proof or the note: exit 1, and the message names the part."""
    run("export", "--partner", "acme", "--out", str(ledger.file("b.json")), *ledger.db)
    doc = json.loads(ledger.file("b.json").read_text())
    tamper(doc)
    ledger.file("b.json").write_text(json.dumps(doc))
    result = offline("audit", "verify", str(ledger.file("b.json")), cwd=ledger.home)
    assert result.returncode == 1
    assert message in json.loads(result.stdout)["error"]
    assert message in result.stderr


def test_inclusion_and_consistency_proofs_verify_offline(ledger: Ledger, tmp_path: Path) -> None:
    """proof inclusion/consistency files verify with `proof verify` in an empty directory; a bad one exits 1."""
    first = run("checkpoint", "show", *ledger.db).stdout
    ledger.file("latest.note").write_text(first)
    inclusion = run("proof", "inclusion", "7", "--out", str(ledger.file("inc.json")), *ledger.db)
    assert inclusion.exit_code == 0, inclusion.output
    empty = tmp_path / "nowhere"
    empty.mkdir()
    checked = offline(
        "proof", "verify", str(ledger.file("inc.json")), "--checkpoint", str(ledger.file("latest.note")),
        "--vkey", ledger.vkey, cwd=empty,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["leafIndex"] == 7
    # more entries, a second checkpoint, and the consistency between the two
    writer, _ = open_toy_ledger(ledger.url)
    with writer:
        writer.app.save(*[Account.open("acme", f"later{i}") for i in range(9)])
    run("seal", *ledger.db)
    ledger.file("new.note").write_text(run("checkpoint", "show", "--size", "74", *ledger.db).stdout)
    run("proof", "consistency", "65", "74", "--out", str(ledger.file("con.json")), *ledger.db)
    notes = ["--checkpoint", str(ledger.file("latest.note")), "--checkpoint", str(ledger.file("new.note"))]
    consistent = offline("proof", "verify", str(ledger.file("con.json")), *notes, "--vkey", ledger.vkey, cwd=empty)
    assert consistent.returncode == 0, consistent.stderr
    doc = json.loads(ledger.file("con.json").read_text())
    doc["consistencyPath"][0] = "00" * 32
    ledger.file("con.json").write_text(json.dumps(doc))
    broken = offline("proof", "verify", str(ledger.file("con.json")), *notes, "--vkey", ledger.vkey, cwd=empty)
    assert broken.returncode == 1
    assert "root mismatch" in json.loads(broken.stdout)["error"]
    assert list(empty.iterdir()) == []


def test_history_proof_round_trip(ledger: Ledger) -> None:
    """proof history writes an aggregate's events with proofs; audit verify checks the back-link chain."""
    aggregate = str(account_id("acme", "c1"))
    result = run("proof", "history", aggregate, "--out", str(ledger.file("h.json")), *ledger.db)
    assert result.exit_code == 0, result.output
    checked = offline("audit", "verify", str(ledger.file("h.json")), "--vkey", ledger.vkey, cwd=ledger.home)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["versions"] == 2


def test_seal_will_not_invent_a_new_key_for_a_sealed_ledger(ledger: Ledger) -> None:
    """If checkpoint.key is lost, sealing refuses instead of signing under a new origin."""
    ledger.file("checkpoint.key").unlink()
    result = run("seal", *ledger.db)
    assert result.exit_code != 0
    assert "is missing" in str(result.exception)
