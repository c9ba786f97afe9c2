"""``ledger feeds``: the batch feeds of seed 001 §2 on local files (docs/feeds.md).

* ``ledger feeds load PARTNER FILE [--out DIR]``: process an eligibility file (CSV, JSON array or JSON
  Lines) and write its report ``eligibility_<partner>_<date>.report.csv`` into ``DIR`` (default: the file's
  folder). Exit code 0 when the file loaded (possibly with skipped records), 2 when it was rejected whole.
* ``ledger feeds export enrollment|outcome PARTNER [--full] [--day YYYY-MM-DD] [--month YYYY-MM] [--out DIR]``:
  write the enrollment feed of a day (default today, incremental since the last delivery, ``--full`` for
  every enrollment) or the outcome feed of a month (default the prior month).

The commands call :mod:`adapters.feeds.processing`, as the SFTP worker does. Settings come from the same
``LEDGER_*`` variables as the server (``LEDGER_FEEDS_BATCH_SIZE``, ``LEDGER_FEEDS_ALERT_SHARE``, the members
settings). ``register(app)`` adds the ``feeds`` group; :data:`feeds_app` is the group other modules extend.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.feeds.processing import (
    FileStatus,
    prior_month,
    process_eligibility_file,
    write_enrollment_feed,
    write_outcome_feed,
)
from adapters.opening import open_ledger
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.options import DatabaseUrl, DataDir, existing
from api.membership import feed_policy, member_policy
from api.settings import Settings
from ledger_core.ledger import Ledger
from ledger_core.shared.validation import parse_date

feeds_app = typer.Typer(no_args_is_help=True, help="Batch feeds: eligibility in, enrollment and outcome files out.")
err = Console(stderr=True)


class OutboundFeed(StrEnum):
    ENROLLMENT = "enrollment"
    OUTCOME = "outcome"


def open_feeds_ledger(data_dir: Path, database_url: str | None) -> Ledger:
    """The ledger as the server opens it for feeds (members and feed settings from ``LEDGER_*``)."""
    settings = Settings.from_env()
    return open_ledger(
        existing(data_dir, database_url),
        restricted_states=settings.members.restricted_states,
        member_policy=member_policy(settings),
        feed_policy=feed_policy(settings),
    )


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


@feeds_app.command("load")
def load(
    partner_id: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The eligibility file.")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the report (default: the file's).")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Load an eligibility file and write its report; exit 2 if the file was rejected whole."""
    with (
        open_feeds_ledger(data_dir, database_url) as ledger,
        Progress(
            TextColumn("loading {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(file.name, total=None)
        outcome = process_eligibility_file(
            ledger,
            partner_id,
            file,
            out or file.parent,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    result = outcome.result
    _echo(
        {
            "partner_id": result.partner_id,
            "file_name": result.file_name,
            "sha256": result.digest,
            "status": result.status.value,
            "rows": result.rows,
            "rows_accepted": result.accepted,
            "rows_created": result.created,
            "rows_updated": result.updated,
            "rows_unchanged": result.unchanged,
            "rows_rejected": result.refused,
            "rejection": None if result.rejection is None else result.rejection.value,
            "message": result.message,
            "alert": result.alert,
            "already_processed": result.already_processed,
            "report": str(outcome.report_path),
        }
    )
    if result.status is FileStatus.REJECTED:
        raise typer.Exit(2)


@feeds_app.command("export")
def export(
    feed: OutboundFeed,
    partner_id: str,
    full: Annotated[bool, typer.Option("--full", help="Enrollment: every enrollment, not only changes.")] = False,
    day: Annotated[str | None, typer.Option("--day", help="Enrollment file date, YYYY-MM-DD (default today).")] = None,
    month: Annotated[str | None, typer.Option("--month", help="Outcome month YYYY-MM (default: prior month).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the file into.")] = Path(),
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the enrollment feed of a day or the outcome feed of a month into ``--out``."""
    today = datetime.now(UTC).date()
    with (
        open_feeds_ledger(data_dir, database_url) as ledger,
        Progress(TextColumn("writing {task.description}"), console=err, transient=True) as progress,
    ):
        progress.add_task(f"{feed.value} feed of {partner_id}", total=None)
        if feed is OutboundFeed.ENROLLMENT:
            target = today if day is None else parse_date(day, "day")
            path = write_enrollment_feed(ledger, partner_id, target, out, full=full)
        else:
            target = prior_month(today) if month is None else parse_date(f"{month}-01", "month")
            path = write_outcome_feed(ledger, partner_id, target, out)
    _echo({"feed": feed.value, "partner_id": partner_id, "path": str(path), "period": _period(feed, target)})


def _period(feed: OutboundFeed, target: date) -> str:
    return target.isoformat() if feed is OutboundFeed.ENROLLMENT else target.strftime("%Y-%m")


def register(app: typer.Typer) -> None:
    """Add ``feeds`` to the ``ledger`` application."""
    app.add_typer(feeds_app, name="feeds")
