"""``ledger batch``: claims files of seed 000 §3.2 Pattern B on local files (docs/batch.md).

* ``ledger batch run FILE [--out DIR] [--level LEVEL]``: import a claims file
  (``claims_<partner>_<YYYYMMDD>[-<label>].jsonl|csv``) and write ``<stem>.results.jsonl`` into ``DIR``
  (default: the file's folder), each claim with its inclusion proof against one signed checkpoint. Exit 0
  when the file loaded (possibly with refused lines), 2 when it was rejected whole. Restartable: run it again
  after a crash and it resumes; run it again after it finished and it records nothing.
* ``ledger batch status PARTNER [--limit N]``: the partner's newest claims files, their state and counts, and
  the files waiting in its feed folders (arrived, not finished) with their deadline (docs/batch.md, "Over SFTP").

The commands call :mod:`adapters.batch.processing`, as the transports do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from adapters.batch.processing import BatchOutcome, process_claims_file, sealing_checkpoint
from adapters.batch.workers import batch_workers
from adapters.feeds.runs import FeedRunJournal
from adapters.opening import open_audit_log, open_ledger
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.options import DatabaseUrl, DataDir, existing
from api.cli.proofs import SigningKey
from api.settings import Settings
from ledger_core.claims.batch.claims_file import ClaimsFile, ClaimsFileStatus
from ledger_core.shared.vocabulary import VerificationLevel

batch_app = typer.Typer(no_args_is_help=True, help="Claims files: historical imports with proofs.")
err = Console(stderr=True)


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def _file_view(file: ClaimsFile) -> dict[str, Any]:
    return {
        "file_name": file.file_name,
        "sha256": file.digest,
        "status": file.status.value,
        "lines": file.lines_through,
        "counts": {outcome.value: count for outcome, count in sorted(file.counts.items())},
        "rejection": None if file.rejection is None else file.rejection.value,
        "message": file.message,
    }


def _run_summary(outcome: BatchOutcome) -> dict[str, Any]:
    """What ``ledger batch run`` prints: the file's report and where its results file is."""
    report = outcome.report
    return {
        "partner_id": report.partner_id,
        "file_name": report.file_name,
        "sha256": report.digest,
        "status": report.status.value,
        "lines": report.lines,
        "counts": {line_outcome.value: count for line_outcome, count in sorted(report.counts.items())},
        "rejection": report.rejection,
        "message": report.message,
        "results": str(outcome.results_path),
    }


@batch_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The claims file.")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the results (default: the file's).")] = None,
    level: Annotated[
        VerificationLevel, typer.Option("--level", help="Verification level of lines that name none.")
    ] = VerificationLevel.STANDARD,
    chunk_lines: Annotated[
        int,
        typer.Option("--chunk-lines", envvar="LEDGER_BATCH_CHUNK_LINES", min=1, max=100_000, help="Lines per chunk."),
    ] = 500,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            envvar="LEDGER_BATCH_WORKERS",
            min=0,
            max=16,
            help="Processes that parse the file's lines and prove its results beside this one (0: none).",
        ),
    ] = 1,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
) -> None:
    """Import a claims file and write its results file; exit 2 if the file was rejected whole."""
    config = existing(data_dir, database_url)
    with (
        open_ledger(config) as ledger,
        open_audit_log(config) as audit,
        batch_workers(config, workers, signing_key=signing_key) as pool,
        Progress(
            TextColumn("importing {task.description}: {task.completed} lines"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(file.name, total=None)
        ledger.batches.chunk_size = chunk_lines
        outcome = process_claims_file(
            ledger,
            audit,
            file,
            out or file.parent,
            checkpoint_covering=sealing_checkpoint(config, signing_key),
            default_level=level.value,
            progress=lambda done: progress.update(task, completed=done),
            workers=pool,
        )
    _echo(_run_summary(outcome))
    if outcome.report.status is ClaimsFileStatus.REJECTED:
        raise typer.Exit(2)


@batch_app.command("status")
def status(
    partner_id: str,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many files, newest first.")] = 20,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """The partner's newest claims files: state, lines and counts by outcome; those waiting, with their deadline."""
    with open_ledger(existing(data_dir, database_url)) as ledger:
        ledger.partners.get(partner_id)
        files = ledger.batches.files(partner_id, limit)
    waiting = _waiting(data_dir, partner_id, datetime.now(UTC))
    _echo({"partner_id": partner_id, "files": [_file_view(file) for file in files], "waiting": waiting})


def _waiting(data_dir: Path, partner_id: str, now: datetime) -> list[dict[str, Any]]:
    """Claims files the feeds worker saw arrive and has not finished (its journal), oldest first."""
    feeds = Settings.from_env().feeds
    runs = FeedRunJournal(feeds.root_dir(data_dir)).load(partner_id)
    sla = timedelta(hours=feeds.claims_sla_hours)
    waiting = []
    for name, arrived in sorted(runs.claims_arrived.items(), key=lambda item: item[1]):
        deadline = datetime.fromisoformat(arrived) + sla
        waiting.append(
            {"file_name": name, "arrived": arrived, "deadline": deadline.isoformat(), "overdue": now > deadline}
        )
    return waiting


def register(app: typer.Typer) -> None:
    """Add ``batch`` to the ``ledger`` application."""
    app.add_typer(batch_app, name="batch")
