"""Tampering with stored tree data or truncating the log is detected, on both backends (function and CLI)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.clock import SteppingClock
from support.databases import execute
from support.ledgers import TOY_MASTER_KEY, open_toy_ledger
from support.toy import Account
from typer.testing import CliRunner

from adapters.files.signing_key import ensure_signing_key
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.merkle import (
    CheckpointMismatch,
    CheckpointSignatureInvalid,
    LogTruncated,
    NodeMismatch,
    TreeIntegrityError,
)
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from proofs import NoteSigner


def build(url: str, signer: NoteSigner) -> None:
    """100 entries (one partner), sealed as checkpoints 40, 80, 100."""
    ledger, _ = open_toy_ledger(url)
    with ledger:
        ledger.app.save(*[Account.open("acme", f"t{i}") for i in range(100)])
    store = open_tree_store(StorageConfig(Path("unused"), url))
    try:
        Sealer(store, signer, SteppingClock(), policy=SealPolicy(max_batch_entries=40)).seal_all()
    finally:
        store.close()


def verify(url: str, signer: NoteSigner) -> object:
    store = open_tree_store(StorageConfig(Path("unused"), url))
    try:
        return verify_tree_and_checkpoints(store, [signer.verifier()])
    finally:
        store.close()


def flip_signature(note: str) -> str:
    start = note.rindex(" ") + 1
    blob = bytearray(base64.b64decode(note[start:]))
    blob[20] ^= 0x40
    return note[:start] + base64.b64encode(bytes(blob)).decode() + "\n"


def tamper_node(url: str) -> None:
    """Overwrite leaf hash 32 in the stored level-0 tile (an edit of the database, not of the log)."""
    [(data,)] = execute(url, "SELECT data FROM merkle_tiles WHERE level = 0 AND idx = 0")
    edited = bytes(data[: 32 * 32]) + b"\x07" * 32 + bytes(data[33 * 32 :])
    execute(url, "UPDATE merkle_tiles SET data = ? WHERE level = 0 AND idx = 0", [edited])


def tamper_root(url: str) -> None:
    execute(url, "UPDATE checkpoints SET root_hash = ? WHERE size = 80", [b"\x08" * 32])


def tamper_body(url: str) -> None:
    note = execute(url, "SELECT note FROM checkpoints WHERE size = 40")[0][0]
    lines = note.split("\n")
    lines[2] = base64.b64encode(b"\x09" * 32).decode()
    execute(url, "UPDATE checkpoints SET note = ? WHERE size = 40", ["\n".join(lines)])


def tamper_signature(url: str) -> None:
    note = execute(url, "SELECT note FROM checkpoints WHERE size = 100")[0][0]
    execute(url, "UPDATE checkpoints SET note = ? WHERE size = 100", [flip_signature(note)])


def truncate(url: str) -> None:
    execute(url, "DELETE FROM ledger_log WHERE position >= 97")


TAMPERINGS: dict[str, tuple[Callable[[str], None], type[TreeIntegrityError], str]] = {
    "node": (tamper_node, NodeMismatch, "TREE_NODE_MISMATCH"),
    "checkpoint-root": (tamper_root, CheckpointMismatch, "CHECKPOINT_MISMATCH"),
    "checkpoint-body": (tamper_body, CheckpointMismatch, "CHECKPOINT_MISMATCH"),
    "signature": (tamper_signature, CheckpointSignatureInvalid, "CHECKPOINT_SIGNATURE_INVALID"),
    "truncation": (truncate, LogTruncated, "LOG_TRUNCATED"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_verify_function_detects(kind: str, database_url: str, tmp_path: Path) -> None:
    """Each tampering raises its evidence-carrying error; the untampered ledger verifies."""
    signer = ensure_signing_key(tmp_path)
    build(database_url, signer)
    assert verify(database_url, signer).checkpoints == 3  # type: ignore[attr-defined]
    tamper, error, _ = TAMPERINGS[kind]
    tamper(database_url)
    with pytest.raises(error) as caught:
        verify(database_url, signer)
    assert caught.value.details["expected"] != caught.value.details["found"]
    if kind == "node":
        assert caught.value.details["level"] == 0
        assert caught.value.details["index"] == 32
    if kind == "truncation":
        assert (caught.value.details["checkpoint_size"], caught.value.details["log_size"]) == (100, 97)


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_ledger_verify_cli_detects(kind: str, database_url: str, tmp_path: Path) -> None:
    """`ledger verify` exits 1 with the tree error's code once it also checks the tree and checkpoints."""
    from api.cli.main import app

    signer = ensure_signing_key(tmp_path)
    build(database_url, signer)
    runner = CliRunner(env={"LEDGER_MASTER_KEY": base64.b64encode(TOY_MASTER_KEY).decode()})  # the toy ledger's key
    args = ["verify", "--data-dir", str(tmp_path), "--database-url", database_url]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["tree"]["checkpoints"] == 3
    tamper, _, code = TAMPERINGS[kind]
    tamper(database_url)
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["error"] == code
