"""Command line for the Merkle tree: sealing, checkpoints, proofs, audit bundles (``register(app)`` adds them).

``ledger sealer`` / ``seal`` write; ``checkpoint``, ``proof inclusion|consistency|history`` and
``export`` read the database; ``proof verify`` and ``audit verify`` are entirely offline (no database,
no server: they read only the files given). Exit codes: 0 success, 1 a proof or bundle does not
verify, 2 usage or input errors. Run standalone with ``python -m api.cli.proofs``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.files.signing_key import ensure_signing_key, load_signing_key, signing_key_path
from adapters.log_recorder import system_clock
from adapters.ports import ManagedTreeStore
from adapters.storage import DEFAULT_DATA_DIR, StorageConfig, open_recorder, open_tree_store
from adapters.workers.sealer import SealerRunner
from api.cli.options import DatabaseUrl, DataDir
from ledger_core.engine.auditing import ProofService, check_bundle_envelopes, verify_history
from ledger_core.engine.errors import InvalidCommand, LedgerError
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.engine.ports import PartnerLogReader
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from proofs.bundle import (
    BUNDLE_FORMAT,
    HISTORY_FORMAT,
    parse_bundle,
    parse_proof_document,
    verify_bundle,
    verify_proof,
    write_bundle,
)
from proofs.checkpoint import Checkpoint, verify_checkpoint
from proofs.errors import ProofError
from proofs.note import NoteSigner, NoteVerifier, parse_vkey

SigningKey = Annotated[
    Path | None,
    typer.Option("--signing-key", envvar="LEDGER_SIGNING_KEY_FILE", help="Checkpoint key file (PRIVATE+KEY+...)."),
]
Origin = Annotated[str | None, typer.Option("--origin", envvar="LEDGER_ORIGIN", help="Origin of a key being created.")]
Size = Annotated[int | None, typer.Option("--size", min=1, help="Tree size of the checkpoint (default: latest).")]
Out = Annotated[Path, typer.Option("--out", help="File to write.")]
Vkeys = Annotated[
    list[str] | None, typer.Option("--vkey", help="Trusted verifier key (string or file), pinned out of band.")
]

checkpoint_app = typer.Typer(no_args_is_help=True, help="Signed checkpoints (C2SP tlog-checkpoint).")
proof_app = typer.Typer(no_args_is_help=True, help="RFC 9162 proofs: make them, or verify them offline.")
audit_app = typer.Typer(no_args_is_help=True, help="Audit bundles, verified offline.")

UNPINNED = (
    "the bundle's own vkey proves only that the bundle is self-consistent; it proves nothing about the"
    " ledger unless it equals a key you obtained out of band (pass it with --vkey)"
)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _fail(message: str, **details: Any) -> typer.Exit:
    _echo_json({"valid": False, "error": message, **details})
    typer.echo(f"INVALID: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def _store(data_dir: Path, database_url: str | None) -> Iterator[ManagedTreeStore]:
    store = open_tree_store(StorageConfig(data_dir, database_url))
    try:
        yield store
    finally:
        store.close()


def _signer(store: ManagedTreeStore, data_dir: Path, signing_key: Path | None, origin: str | None) -> NoteSigner:
    latest = store.latest_checkpoint()
    return ensure_signing_key(data_dir, signing_key, origin, sealed_as=None if latest is None else latest.body().origin)


def _bundle_vkey(data_dir: Path, signing_key: Path | None, record: CheckpointRecord) -> str:
    """The vkey to ship in a bundle; it must verify the checkpoint being shipped."""
    vkey = load_signing_key(signing_key_path(data_dir, signing_key)[0]).verifier().vkey
    try:
        verify_checkpoint(record.note, vkey)
    except ProofError as error:
        raise InvalidCommand(f"checkpoint {record.size} does not verify with the current key: {error}") from None
    return vkey


def _vkey_text(value: str) -> str:
    path = Path(value)
    return path.read_text(encoding="utf-8").strip() if "+" not in value or path.is_file() else value


def _verifiers(values: list[str] | None) -> list[NoteVerifier]:
    try:
        return [parse_vkey(_vkey_text(v)) for v in values or []]
    except ProofError as error:
        raise typer.BadParameter(str(error), param_hint="--vkey") from None


# -- writing ---------------------------------------------------------------------------------------------
def sealer(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
    origin: Origin = None,
    batch_entries: Annotated[int, typer.Option(envvar="LEDGER_SEAL_BATCH_ENTRIES", min=1, help="N")] = 1000,
    interval_ms: Annotated[int, typer.Option(envvar="LEDGER_SEAL_INTERVAL_MS", min=0, help="T")] = 200,
    max_batch_entries: Annotated[int, typer.Option(min=1, help="Entries per transaction at most.")] = 100_000,
    poll_interval: Annotated[float, typer.Option(min=0.001, help="Seconds between checks.")] = 0.05,
) -> None:
    """Run the sealer until SIGTERM/SIGINT: integrate new entries every N entries or T ms, sign checkpoints.

    On PostgreSQL only the holder of the sealer lock seals; others wait and take over when it dies.
    Prints one JSON line per event (leader, waiting, sealed, error, stopped).
    """
    store = open_tree_store(StorageConfig(data_dir, database_url))
    signer = _signer(store, data_dir, signing_key, origin)
    policy = SealPolicy(batch_entries, interval_ms, max_batch_entries)

    def report(event: dict[str, Any]) -> None:
        typer.echo(json.dumps(event, sort_keys=True))
        sys.stdout.flush()

    report({"event": "started", "origin": signer.name, "vkey": signer.verifier().vkey})
    runner = SealerRunner(
        store, Sealer(store, signer, system_clock, policy=policy), poll_interval=poll_interval, report=report
    )
    runner.run_until_signalled()


def seal(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
    origin: Origin = None,
) -> None:
    """Seal everything waiting now (one pass) and print the latest signed checkpoint."""
    with _store(data_dir, database_url) as store:
        signer = _signer(store, data_dir, signing_key, origin)
        if not store.try_acquire_leadership():
            typer.echo("another sealer holds the sealer lock; it will seal these entries", err=True)
            raise typer.Exit(2)
        results = Sealer(store, signer, system_clock).seal_all()
        latest = store.latest_checkpoint()
    typer.echo(f"sealed {sum(r.checkpoint.size - r.old_size for r in results)} entries", err=True)
    if latest is not None:
        typer.echo(latest.note, nl=False)


# -- reading ---------------------------------------------------------------------------------------------
@checkpoint_app.command("show")
def checkpoint_show(data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None, size: Size = None) -> None:
    """Print a signed checkpoint note verbatim (redirect it to a file to hand to an auditor)."""
    with _store(data_dir, database_url) as store:
        record = ProofService(store).checkpoint(size)
    typer.echo(record.note, nl=False)


@checkpoint_app.command("vkey")
def checkpoint_vkey(
    data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None, signing_key: SigningKey = None
) -> None:
    """Print the verifier key (C2SP vkey) of the checkpoint signing key (reads only the key file)."""
    path, _ = signing_key_path(data_dir, signing_key)
    typer.echo(load_signing_key(path).verifier().vkey)


@proof_app.command("inclusion")
def proof_inclusion(
    position: int,
    out: Out,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    size: Size = None,
    checkpoint_out: Annotated[Path | None, typer.Option(help="Also write the checkpoint note here.")] = None,
) -> None:
    """Write the inclusion proof of POSITION against a checkpoint (default: the latest)."""
    with _store(data_dir, database_url) as store:
        proof, record = ProofService(store).inclusion(position, size)
    _write_json(out, proof.to_json())
    if checkpoint_out is not None:
        checkpoint_out.write_text(record.note, encoding="utf-8")
    _echo_json(proof.to_json())


@proof_app.command("consistency")
def proof_consistency(
    from_size: int, to_size: int, out: Out, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None
) -> None:
    """Write the consistency proof between the checkpoints of FROM_SIZE and TO_SIZE."""
    with _store(data_dir, database_url) as store:
        proof, _, _ = ProofService(store).consistency(from_size, to_size)
    _write_json(out, proof.to_json())
    _echo_json(proof.to_json())


@contextmanager
def _reading(data_dir: Path, database_url: str | None) -> Iterator[tuple[ProofService, PartnerLogReader]]:
    """A proof service over the tree and the log (entries are needed for histories and bundles)."""
    recorder = open_recorder(StorageConfig(data_dir, database_url))
    try:
        if not isinstance(recorder, PartnerLogReader):
            raise TypeError("this recorder cannot read a partner's entries")
        with _store(data_dir, database_url) as store:
            yield ProofService(store, recorder), recorder
    finally:
        recorder.close()


@proof_app.command("history")
def proof_history(
    aggregate_id: str,
    out: Out,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
    size: Size = None,
) -> None:
    """Write every event of one aggregate up to a checkpoint, with proofs (verify with `audit verify`)."""
    with _reading(data_dir, database_url) as (service, _):
        history = service.history(aggregate_id, size)
    record = history.checkpoint
    with out.open("w", encoding="utf-8") as handle:
        count = write_bundle(
            handle,
            format=HISTORY_FORMAT,
            checkpoint=record.note,
            vkey=_bundle_vkey(data_dir, signing_key, record),
            tree_size=record.size,
            entries=history.entries,
            subject={"aggregateId": aggregate_id},
        )
    _echo_json({"aggregateId": aggregate_id, "treeSize": record.size, "entries": count, "out": str(out)})


def export(
    partner: Annotated[str, typer.Option("--partner", help="Partner id.")],
    out: Out,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
    size: Size = None,
) -> None:
    """Write a partner's audit bundle: its entries, their inclusion proofs, the signed checkpoint, the vkey."""
    with _reading(data_dir, database_url) as (service, log), out.open("w", encoding="utf-8") as handle:
        record = service.checkpoint(size)
        count = write_bundle(
            handle,
            format=BUNDLE_FORMAT,
            checkpoint=record.note,
            vkey=_bundle_vkey(data_dir, signing_key, record),
            tree_size=record.size,
            subject={"partnerId": partner},
            entries=service.partner_entries(log, partner, record.size),
        )
    _echo_json({"partnerId": partner, "treeSize": record.size, "entries": count, "out": str(out)})


# -- offline verification --------------------------------------------------------------------------------
@proof_app.command("verify")
def proof_verify(
    proof_file: Annotated[Path, typer.Argument(metavar="PROOF.json")],
    checkpoint: Annotated[
        list[Path], typer.Option("--checkpoint", help="Signed checkpoint note(s); two for consistency.")
    ],
    vkey: Annotated[str, typer.Option("--vkey", help="Verifier key (string or file), obtained out of band.")],
    entry: Annotated[Path | None, typer.Option(help="The entry's bytes: check they hash to leafHash.")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Verify an inclusion or consistency proof offline against signed checkpoints.

    Reads only the files given: --data-dir and --database-url are accepted like everywhere but never opened.
    """
    verifier = _verifiers([vkey])[0]
    try:
        proof = parse_proof_document(proof_file.read_bytes())
        heads: dict[int, Checkpoint] = {}
        for note in checkpoint:
            head = verify_checkpoint(note.read_bytes(), verifier)
            heads[head.size] = head
    except (ProofError, OSError) as error:
        raise _fail(str(error)) from None
    try:
        verify_proof(proof, heads, None if entry is None else entry.read_bytes())
    except ProofError as error:
        raise _fail(str(error)) from None
    _echo_json({"valid": True, "origin": verifier.name, **proof.to_json()})


@audit_app.command("verify")
def audit_verify(
    bundle_file: Annotated[Path, typer.Argument(metavar="FILE")],
    vkey: Vkeys = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Verify an audit bundle (or history proof) offline: leaf hashes, inclusion proofs, checkpoint signature.

    Reads only FILE: --data-dir and --database-url are accepted like everywhere but never opened.
    """
    trusted = _verifiers(vkey)
    try:
        bundle = parse_bundle(bundle_file.read_bytes())
        if bundle.format == HISTORY_FORMAT:
            history = verify_history(bundle, trusted)
            report, extra = history.report, {"aggregateId": history.aggregate_id, "versions": history.versions}
        else:
            report = verify_bundle(bundle, trusted)
            extra = {"partnerId": bundle.subject.get("partnerId"), "envelopes": check_bundle_envelopes(bundle)}
    except (ProofError, OSError) as error:
        raise _fail(str(error), file=str(bundle_file)) from None
    summary = {
        "valid": True,
        "format": bundle.format,
        "origin": report.checkpoint.origin,
        "treeSize": report.checkpoint.size,
        "entries": report.entries,
        "vkey": report.vkey,
        "pinned": report.pinned,
        **extra,
    }
    if not report.pinned:
        summary["warning"] = UNPINNED
        typer.echo(f"WARNING: {UNPINNED}", err=True)
    _echo_json(summary)
    typer.echo(f"OK: {report.entries} entries verified against checkpoint {report.checkpoint.size}", err=True)


# -- for `ledger init` and `ledger verify` ---------------------------------------------------------------
def init_tree(data_dir: Path, database_url: str | None, signing_key: Path | None, origin: str | None) -> Any:
    """Create the tree tables and the checkpoint key if missing; return the origin and vkey to print."""
    with _store(data_dir, database_url) as store:
        signer = _signer(store, data_dir, signing_key, origin)
    return {"origin": signer.name, "vkey": signer.verifier().vkey}


def check_tree(data_dir: Path, database_url: str | None, vkeys: list[str] | None, signing_key: Path | None) -> Any:
    """Run :func:`verify_tree_and_checkpoints`; trusted keys from ``--vkey`` or else the signing key if present."""
    verifiers = _verifiers(vkeys)
    path, _ = signing_key_path(data_dir, signing_key)
    if not verifiers and path.is_file():
        verifiers = [load_signing_key(path).verifier()]
    with _store(data_dir, database_url) as store:
        tree = verify_tree_and_checkpoints(store, verifiers)
    return {
        "integratedSize": tree.integrated_size,
        "checkpoints": tree.checkpoints,
        "nodes": tree.nodes,
        "signaturesChecked": tree.signatures_checked,
        "latestCheckpoint": None if tree.latest is None else tree.latest.size,
    }


def register(app: typer.Typer) -> None:
    """Add these commands to the ``ledger`` application."""
    app.command("sealer")(sealer)
    app.command("seal")(seal)
    app.command("export")(export)
    app.add_typer(checkpoint_app, name="checkpoint")
    app.add_typer(proof_app, name="proof")
    app.add_typer(audit_app, name="audit")


def main() -> None:
    """Standalone entry point (``python -m api.cli.proofs``): ledger errors exit 2."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, help="Proveniq Ledger proofs.")
    register(app)
    try:
        app()
    except LedgerError as error:
        typer.echo(f"{error.code}: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
