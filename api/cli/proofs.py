"""Command line for the Merkle tree: sealing, checkpoints, proofs, audit bundles (``register(app)`` adds them).

``ledger sealer`` / ``seal`` write; ``checkpoint``, ``proof inclusion|consistency|history`` and
``export`` read the database through the audit use case (:class:`~ledger_core.engine.audit_log.AuditLog`)
and write proof documents (docs/proofs.md); ``proof verify`` and ``audit verify`` are entirely
offline (api/cli/verifying.py). Exit codes as in api/cli/errors.py. Run standalone with
``python -m api.cli.proofs``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.files.published_checkpoint import PublishedCheckpoint, check_not_rolled_back, published_path
from adapters.files.signing_key import ensure_signing_key, load_signing_key, previous_vkeys, signing_key_path
from adapters.key_sources import require_keys_apart
from adapters.log_recorder import system_clock
from adapters.opening import check_not_rolled_back_at_start, seal_observers
from adapters.ports import ManagedTreeStore
from adapters.storage import DEFAULT_DATA_DIR, open_recorder, open_tree_store
from adapters.tree_migration import MigratableTreeStore
from adapters.workers.sealer import SealerRunner
from adapters.workers.witnesses import parse_witnesses
from api.cli import verifying
from api.cli.errors import CliFailure, run
from api.cli.options import DatabaseUrl, DataDir, existing
from ledger_core.engine.audit_log import AuditLog
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.engine.right_edge import RightEdge
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from proofs.bundle import BUNDLE_FORMAT, HISTORY_FORMAT, write_bundle
from proofs.checkpoint import verify_checkpoint
from proofs.errors import ProofError
from proofs.note import NoteSigner

SigningKey = Annotated[
    Path | None,
    typer.Option("--signing-key", envvar="LEDGER_SIGNING_KEY_FILE", help="Checkpoint key file (PRIVATE+KEY+...)."),
]
Origin = Annotated[str | None, typer.Option("--origin", envvar="LEDGER_ORIGIN", help="Origin of a key being created.")]
Size = Annotated[int | None, typer.Option("--size", min=1, help="Tree size of the checkpoint (default: latest).")]
Out = Annotated[Path, typer.Option("--out", help="File to write.")]

checkpoint_app = typer.Typer(no_args_is_help=True, help="Signed checkpoints (C2SP tlog-checkpoint).")
proof_app = typer.Typer(no_args_is_help=True, help="RFC 9162 proofs: make them, or verify them offline.")
audit_app = typer.Typer(no_args_is_help=True, help="Audit bundles, verified offline.")


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@contextmanager
def _store(data_dir: Path, database_url: str | None) -> Iterator[ManagedTreeStore]:
    store = open_tree_store(existing(data_dir, database_url))
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
    witnesses: Annotated[
        str, typer.Option("--witnesses", envvar="LEDGER_WITNESSES", help="Witnesses: 'URL VKEY' pairs separated by ;")
    ] = "",
) -> None:
    """Run the sealer until SIGTERM/SIGINT: integrate new entries every N entries or T ms, sign checkpoints.

    On PostgreSQL only the holder of the sealer lock seals; others wait and take over when it dies.
    Prints one JSON line per event (leader, waiting, sealed, error, stopped).
    """
    config = existing(data_dir, database_url)
    require_keys_apart(config, signing_key, signs=True, unwraps=False)  # PostgreSQL: a named key, no master key
    check_not_rolled_back_at_start(config, signing_key)
    store = open_tree_store(config)
    signer = _signer(store, data_dir, signing_key, origin)
    policy = SealPolicy(batch_entries, interval_ms, max_batch_entries)

    def report(event: dict[str, Any]) -> None:
        typer.echo(json.dumps(event, sort_keys=True))
        sys.stdout.flush()

    report({"event": "started", "origin": signer.name, "vkey": signer.verifier().vkey})
    observers = seal_observers(store, config, signing_key, parse_witnesses(witnesses), report)
    runner = SealerRunner(
        store,
        Sealer(store, signer, system_clock, policy=policy, edge=RightEdge()),  # the frontier from memory
        poll_interval=poll_interval,
        report=report,
        observers=observers,
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
        check_not_rolled_back(store, published_path(data_dir, signing_key))  # never sign on top of a rollback
        signer = _signer(store, data_dir, signing_key, origin)
        if not store.try_acquire_leadership():
            typer.echo("another sealer holds the sealer lock; it will seal these entries", err=True)
            raise typer.Exit(2)
        results = Sealer(store, signer, system_clock).seal_all()
        latest = store.latest_checkpoint()
        if latest is not None:
            PublishedCheckpoint(published_path(data_dir, signing_key)).sealed(latest)
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


@contextmanager
def _audit(data_dir: Path, database_url: str | None) -> Iterator[AuditLog]:
    """The audit use case (ledger_core.engine.audit_log) over the ledger's log and tree."""
    recorder = open_recorder(existing(data_dir, database_url))
    try:
        with _store(data_dir, database_url) as store:
            yield AuditLog(recorder, ProofService(store, recorder))
    finally:
        recorder.close()


@proof_app.command("inclusion")
def proof_inclusion(
    position: int,
    out: Out,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    size: Size = None,
    checkpoint_out: Annotated[Path | None, typer.Option(help="Also write the checkpoint note here.")] = None,
) -> None:
    """Write the inclusion proof document of POSITION (entry and signed checkpoint included) against a
    checkpoint (default: the latest); `ledger proof verify` checks it offline."""
    with _audit(data_dir, database_url) as audit:
        proven = audit.prove(position, size)
    document = proven.document().to_json()
    _write_json(out, document)
    if checkpoint_out is not None:
        checkpoint_out.write_text(proven.checkpoint.note, encoding="utf-8")
    _echo_json(document)


@proof_app.command("consistency")
def proof_consistency(
    from_size: int, to_size: int, out: Out, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None
) -> None:
    """Write the consistency proof document (both signed checkpoints included) from FROM_SIZE to TO_SIZE."""
    with _audit(data_dir, database_url) as audit:
        document = audit.consistency(from_size, to_size).proof.to_json()
    _write_json(out, document)
    _echo_json(document)


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
    with _audit(data_dir, database_url) as audit:
        history = audit.proofs.history(aggregate_id, size)
    if not history.entries:
        raise NotFound("aggregate", aggregate_id)
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
    with _audit(data_dir, database_url) as audit:
        if not audit.partner_log.read_partner_rows(partner, 0, 1):
            raise NotFound("partner", partner)  # a mistyped id is an error, not an empty bundle
        record = audit.checkpoint(size)
        with out.open("w", encoding="utf-8") as handle:
            count = write_bundle(
                handle,
                format=BUNDLE_FORMAT,
                checkpoint=record.note,
                vkey=_bundle_vkey(data_dir, signing_key, record),
                tree_size=record.size,
                subject={"partnerId": partner},
                entries=audit.proofs.partner_entries(audit.partner_log, partner, record.size),
            )
    _echo_json({"partnerId": partner, "treeSize": record.size, "entries": count, "out": str(out)})


# -- for `ledger init` and `ledger verify` ---------------------------------------------------------------
def init_tree(data_dir: Path, database_url: str | None, signing_key: Path | None, origin: str | None) -> Any:
    """Create the tree tables and the checkpoint key if missing; return the origin and vkey to print."""
    with _store(data_dir, database_url) as store:
        signer = _signer(store, data_dir, signing_key, origin)
    return {"origin": signer.name, "vkey": signer.verifier().vkey}


def check_tree(data_dir: Path, database_url: str | None, vkeys: list[str] | None, signing_key: Path | None) -> Any:
    """Run :func:`verify_tree_and_checkpoints`; trusted keys from ``--vkey`` or else the signing key if present."""
    verifiers = verifying.verifiers(vkeys)
    path, _ = signing_key_path(data_dir, signing_key)
    if not verifiers and path.is_file():
        verifiers = [load_signing_key(path).verifier(), *verifying.verifiers(previous_vkeys(path))]
    with _store(data_dir, database_url) as store:
        if isinstance(store, MigratableTreeStore) and store.has_legacy_nodes():
            raise CliFailure("MIGRATION_NEEDED", "the tree is still stored as node rows: run `ledger migrate` first")
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
    verifying.register(proof_app, audit_app)  # proof verify, audit verify: api/cli/verifying.py
    app.add_typer(proof_app, name="proof")
    app.add_typer(audit_app, name="audit")


def main() -> None:
    """Standalone entry point (``python -m api.cli.proofs``): errors as in api/cli/errors.py."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, help="Proveniq Ledger proofs.")
    register(app)
    run(app)


if __name__ == "__main__":
    main()
