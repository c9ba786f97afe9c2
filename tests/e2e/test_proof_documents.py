"""One proof document format: every producer's output is accepted by every verifier (issue 19, item 1).

Producers: the HTTP API (a new claim's proof, GET /claims/{id}/proof, GET /audit/proofs/{position},
GET /audit/consistency) and the ``ledger`` command line (proof inclusion, proof consistency, proof
history, export). Verifiers: ``ledger proof verify``, ``ledger audit verify`` and the SDK's
``LedgerClient.verify_proof_offline``. Every document also validates against the JSON Schema the server
publishes, which is the one checked in under docs/.

The documents are produced once per module. The command line runs in this process for the producers and the
producer x verifier matrix (``api.cli.errors.run`` with ``api.cli.main.app``, as the console script does:
support/cli_inprocess.py), sparing a CLI import per command; the tampered document, the missing field and
the ``--state`` checks run the real ``python -m api`` in subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import msgspec
import pytest
from support.cli_inprocess import ledger_in_process
from support.http_server import LiveServer, claim_body, live_server

from api.client.ledger_client import LedgerClient
from proofs.errors import ProofError

ROOT = Path(__file__).resolve().parents[2]
Verifier = Callable[[Path, str], None]


def ledger(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line, ``python -m api``, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False, cwd=cwd or ROOT
    )


class Produced:
    """A live ledger with two signed checkpoints, and the documents every producer made of it."""

    def __init__(self, server: LiveServer, out: Path) -> None:
        self.server, self.out = server, out
        partner = f"p_{uuid.uuid4().hex[:8]}"
        client = server.client(server.create_partner(partner))
        self.vkey = client.public_key()
        first = client.submit_claim(claim_body("CLM-A"))
        second = client.submit_claim(claim_body("CLM-B"))
        assert first.proof is not None
        assert second.proof is not None
        small, large, position = first.proof.tree_size, second.proof.tree_size, first.proof.leaf_index
        where = ["--data-dir", str(server.data_dir)]
        answers = {
            "http claim proof (POST)": second.proof,
            "http claim proof (GET)": client.get_claim_proof(first.claim_id).proof,
            "http audit proof": client.audit_proof(position),
            "http consistency": client.consistency(small, large),
        }
        self.documents = {
            name: self.write(f"http-{i}.json", msgspec.to_builtins(answer))
            for i, (name, answer) in enumerate(answers.items())
        }
        whole = msgspec.to_builtins(client.get_claim_proof(second.claim_id))  # the response body as saved by curl
        self.documents["http claim response (whole body)"] = self.write("claim-response.json", whole)
        commands = {
            "cli proof inclusion": ["proof", "inclusion", str(first.proof.leaf_index)],
            "cli proof consistency": ["proof", "consistency", str(small), str(large)],
            "cli proof history": ["proof", "history", first.claim_id],
            "cli export": ["export", "--partner", partner],
        }
        for name, command in commands.items():
            target = out / f"{name.replace(' ', '-')}.json"
            made = ledger_in_process(*command, "--out", str(target), *where, cwd=ROOT)
            assert made.returncode == 0, made.stderr
            self.documents[name] = target

    def write(self, name: str, doc: Any) -> Path:
        path = self.out / name
        path.write_text(json.dumps(doc), encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Produced]:
    root = tmp_path_factory.mktemp("proof-documents")
    with live_server(root / "data") as server:
        yield Produced(server, root)


def cli_proof_verify(path: Path, vkey: str) -> None:
    result = ledger_in_process("proof", "verify", str(path), "--vkey", vkey, cwd=path.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True


def cli_audit_verify(path: Path, vkey: str) -> None:
    result = ledger_in_process("audit", "verify", str(path), "--vkey", vkey, cwd=path.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pinned"] is True


def sdk_verify(path: Path, vkey: str) -> None:
    report = LedgerClient.verify_proof_offline(json.loads(path.read_text(encoding="utf-8")), vkey)
    assert report.pinned


VERIFIERS: dict[str, Verifier] = {
    "ledger proof verify": cli_proof_verify,
    "ledger audit verify": cli_audit_verify,
    "sdk": sdk_verify,
}
PRODUCERS = [
    "http claim response (whole body)",
    "http claim proof (POST)",
    "http claim proof (GET)",
    "http audit proof",
    "http consistency",
    "cli proof inclusion",
    "cli proof consistency",
    "cli proof history",
    "cli export",
]


@pytest.mark.parametrize("verifier", sorted(VERIFIERS))
@pytest.mark.parametrize("producer", PRODUCERS)
def test_every_producer_is_accepted_by_every_verifier(produced: Produced, producer: str, verifier: str) -> None:
    """The document of each producer verifies with each verifier, pinned to the server's vkey."""
    VERIFIERS[verifier](produced.documents[producer], produced.vkey)


@pytest.mark.parametrize("producer", PRODUCERS)
def test_every_document_names_its_format_and_matches_the_published_schema(produced: Produced, producer: str) -> None:
    """Each document carries a versioned format and validates against the served JSON Schema."""
    served = httpx.get(f"{produced.server.url}/schema/proof-document.schema.json", timeout=10)
    assert served.status_code == 200
    assert served.content == (ROOT / "docs" / "proof-document.schema.json").read_bytes()
    validator = jsonschema_rs.validator_for(served.json())
    doc = json.loads(produced.documents[producer].read_text(encoding="utf-8"))
    doc = doc.get("proof", doc)  # a claim's whole response carries the document as its proof
    assert doc["format"].startswith("proveniq-ledger/")
    assert doc["format"].endswith("/v1")
    validator.validate(doc)


@pytest.mark.parametrize("verifier", sorted(VERIFIERS))
def test_a_tampered_document_is_refused_by_every_verifier(produced: Produced, verifier: str, tmp_path: Path) -> None:
    """The same API proof with one path hash changed fails everywhere (exit 1 on the command line)."""
    doc = json.loads(produced.documents["http audit proof"].read_text(encoding="utf-8"))
    doc["inclusionPath"][0] = "00" * 32
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    if verifier == "sdk":
        with pytest.raises((AssertionError, ProofError)):
            sdk_verify(tampered, produced.vkey)
        return
    refused = ledger(*verifier.split()[1:], str(tampered), "--vkey", produced.vkey, cwd=tmp_path)  # the real one
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.startswith("PROOF_INVALID: ")
    assert refused.stderr.count("\n") == 1


def test_a_missing_field_is_reported_as_missing(produced: Produced, tmp_path: Path) -> None:
    """An absent leafHash is 'missing' (exit 2, MALFORMED_PROOF), not 'must be 64 lowercase hex digits'."""
    doc = json.loads(produced.documents["cli proof inclusion"].read_text(encoding="utf-8"))
    del doc["leafHash"]
    broken = tmp_path / "missing.json"
    broken.write_text(json.dumps(doc), encoding="utf-8")
    result = ledger("proof", "verify", str(broken), "--vkey", produced.vkey)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("malformed proof document: required field 'leafHash' is missing")
    assert result.stderr.count("\n") == 1


def test_the_claim_proof_keeps_its_former_field(produced: Produced) -> None:
    """Claim proofs still carry ``hash`` (deprecated) equal to ``leafHash``, for older SDKs."""
    doc = json.loads(produced.documents["http claim proof (GET)"].read_text(encoding="utf-8"))
    assert doc["hash"] == doc["leafHash"]


def test_the_cli_keeps_the_last_verified_checkpoint(produced: Produced, tmp_path: Path) -> None:
    """``--state``: a consistency document moves the remembered checkpoint forward; a checkpoint of the
    remembered size with another root (a split view) then fails verification, exit 1."""
    state = tmp_path / "state.json"
    moved = ledger("proof", "verify", str(produced.documents["cli proof consistency"]), "--vkey", produced.vkey,
                   "--state", str(state))  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    compared = json.loads(moved.stdout)["state"]["checkpoints"]
    assert sorted(compared.values()) == ["advanced", "first"]
    remembered = json.loads(state.read_text(encoding="utf-8"))
    (log,) = remembered["logs"].values()
    doc = json.loads(produced.documents["cli proof consistency"].read_text(encoding="utf-8"))
    assert log["size"] == doc["toSize"]
    same = ledger("audit", "verify", str(produced.documents["cli proof inclusion"]), "--vkey", produced.vkey,
                  "--state", str(state))  # fmt: skip
    assert same.returncode == 0, same.stderr
    log["rootHash"] = "AAAA" + log["rootHash"][4:]  # what another client was shown for this size
    state.write_text(json.dumps(remembered), encoding="utf-8")
    split = ledger("proof", "verify", str(produced.documents["cli proof inclusion"]), "--vkey", produced.vkey,
                   "--state", str(state))  # fmt: skip
    assert split.returncode == 1
    assert split.stderr.startswith("PROOF_INVALID: split view")
