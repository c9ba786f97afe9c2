"""File-level feed processing: the API the ``ledger feeds`` commands and the SFTP transport call.

Every function takes an open :class:`~ledger_core.ledger.Ledger` (``adapters.opening.open_ledger``, with
``feed_policy=`` for the batch size and alert share; ``api.cli.feeds.open_feeds_ledger`` opens it from the
``LEDGER_*`` settings) and works on local paths; the use cases are ``ledger.feeds``
(:mod:`ledger_core.members.feeds.use_cases`). ``progress(rows done, rows in the file)`` is called per batch.

* :func:`process_eligibility_file` ``(ledger, partner_id, path, outbound_dir, *, file_name=None,
  progress=None) -> EligibilityOutcome`` (``.status``: :class:`FileStatus` ``accepted | partial | rejected``,
  ``.rows_accepted``, ``.rows_rejected``, ``.alert``, ``.report_path``, ``.result``: every count, the
  SHA-256, the rejection and ``already_processed``): load one inbound eligibility file (CSV, JSON array or
  JSON Lines, by extension of ``file_name``, e.g. the name before decryption, or of the path) and write its report
  ``eligibility_<partner>_<YYYYMMDD>.report.csv`` into ``outbound_dir``. A rejected file is a result
  (``status`` ``rejected``), never an exception; processing the same bytes again records nothing and
  rewrites the same report. A file whose name does not follow the convention is rejected with the
  report named after the path (``<name>.report.csv``).
* :func:`write_enrollment_feed` ``(ledger, partner_id, day, outbound_dir, *, full=False) -> Path``:
  ``enrollment_<partner>_<YYYYMMDD>.csv``, incremental since the last recorded delivery (or full).
* :func:`write_outcome_feed` ``(ledger, partner_id, month, outbound_dir) -> Path``:
  ``outcome_<partner>_<YYYYMM>.csv`` for the month of ``month`` (use :func:`prior_month` on the 1st).
* :func:`feed_status` ``(ledger, partner_ids) -> list[PartnerFeedStatus]``: last file, rows accepted and
  refused, last deliveries (for ``ledger feeds status``).

Report columns: ``row, line, partner_member_id, outcome, field, reason``; the first row is the summary
(``outcome`` = the file's status), then one row per skipped record, by row. Every cell is neutralised
against CSV formula injection (:mod:`adapters.feeds.csv_files`); no cell ever holds a personal value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from adapters.feeds.background_saves import background_saves
from adapters.feeds.csv_files import write_csv
from adapters.gc_threshold import bulk_gc_threshold
from ledger_core.engine.errors import InvalidCommand
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.eligibility_file import FileStatus
from ledger_core.members.feeds.formats import (
    ENROLLMENT_COLUMNS,
    OUTCOME_COLUMNS,
    REPORT_COLUMNS,
    FileRejection,
    RowProblem,
    parse_eligibility_name,
)
from ledger_core.members.feeds.loading import LoadResult, Progress
from ledger_core.members.feeds.outbound import prior_month
from ledger_core.members.feeds.use_cases import Feeds, PartnerFeedStatus

__all__ = [
    "EligibilityOutcome",
    "FileStatus",
    "PartnerFeedStatus",
    "feed_status",
    "prior_month",
    "process_eligibility_file",
    "write_enrollment_feed",
    "write_outcome_feed",
]


@dataclass(frozen=True, slots=True)
class EligibilityOutcome:
    """What processing one inbound file did, and where its report is."""

    result: LoadResult
    report_path: Path

    @property
    def status(self) -> FileStatus:
        return self.result.status

    @property
    def rows_accepted(self) -> int:
        return self.result.accepted

    @property
    def rows_rejected(self) -> int:
        return self.result.refused

    @property
    def alert(self) -> bool:
        return self.result.alert


def feeds_of(ledger: Ledger) -> Feeds:
    """The ledger's feeds (both storage backends provide them)."""
    if ledger.feeds is None:
        raise InvalidCommand("this ledger's storage cannot run batch feeds", field="storage")
    return ledger.feeds


def _opener(path: Path) -> AbstractContextManager[IO[bytes]]:
    return path.open("rb")


def process_eligibility_file(
    ledger: Ledger,
    partner_id: str,
    path: Path,
    outbound_dir: Path,
    *,
    file_name: str | None = None,
    progress: Progress | None = None,
) -> EligibilityOutcome:
    """Load ``path`` for ``partner_id`` and write its report into ``outbound_dir`` (see the module docstring)."""
    feeds = feeds_of(ledger)
    name = file_name or path.name
    with bulk_gc_threshold(), background_saves() as saves:
        result = feeds.load_eligibility(partner_id, name, lambda: _opener(path), progress=progress, saves=saves)
    try:
        report_name = parse_eligibility_name(name, partner_id).report_name
    except InvalidCommand:
        report_name = f"{Path(name).name}.report.csv"
    report = outbound_dir / report_name
    problems = [] if result.status is FileStatus.REJECTED else feeds.problems(partner_id, result.digest)
    write_csv(report, REPORT_COLUMNS, _report_rows(result, problems))
    return EligibilityOutcome(result, report)


def _report_rows(result: LoadResult, problems: Sequence[RowProblem]) -> Iterator[tuple[object, ...]]:
    if result.status is FileStatus.REJECTED:
        rejection = result.rejection or FileRejection.NOT_CSV
        line = "" if result.line is None else result.line
        yield ("", line, "", "rejected", "file", f"{rejection.value}: {result.message}")
        return
    summary = (
        f"{result.rows} records: {result.accepted} accepted ({result.created} new, {result.updated} updated,"
        f" {result.unchanged} unchanged), {result.refused} skipped"
    )
    yield ("", "", "", result.status.value, "", summary)
    for problem in problems:
        reason = f"{problem.refusal.value}: {problem.reason}"
        yield (problem.row, problem.line, problem.partner_member_id, "skipped", problem.field, reason)


def write_enrollment_feed(
    ledger: Ledger, partner_id: str, day: date, outbound_dir: Path, *, full: bool = False
) -> Path:
    """Record the day's delivery (once) and write its file; the same day again rewrites the same bytes."""
    feeds = feeds_of(ledger)
    delivery, rows = feeds.deliver_enrollment(partner_id, day, full=full)
    path = outbound_dir / delivery.file_name
    write_csv(path, ENROLLMENT_COLUMNS, rows, safe=False)  # machine-read: the partner's own ids, exactly
    return path


def write_outcome_feed(ledger: Ledger, partner_id: str, month: date, outbound_dir: Path) -> Path:
    """The outcome file of ``month``'s calendar month (recorded as a delivery once)."""
    feeds = feeds_of(ledger)
    delivery = feeds.plan_outcome(partner_id, month)
    path = outbound_dir / delivery.file_name
    write_csv(path, OUTCOME_COLUMNS, feeds.outcome_rows(partner_id, month), safe=False)  # NPS may be "-20"
    return path


def feed_status(ledger: Ledger, partner_ids: Sequence[str]) -> list[PartnerFeedStatus]:
    feeds = feeds_of(ledger)
    return [feeds.status(partner_id) for partner_id in partner_ids]
