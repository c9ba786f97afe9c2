"""The feeds worker's :class:`~adapters.workers.feeds.FeedProcessing` over one open ledger: the file-level
functions of :mod:`adapters.feeds.processing` (parsing, validating, bulk loading, reports, feed files)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from adapters.feeds.csv_files import write_csv
from adapters.feeds.processing import (
    FileStatus,
    feeds_of,
    prior_month,
    process_eligibility_file,
    write_enrollment_feed,
    write_outcome_feed,
)
from adapters.workers.feeds import EligibilityResult
from ledger_core.engine.errors import InvalidCommand
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.formats import REPORT_COLUMNS, parse_eligibility_name
from ledger_core.members.feeds.notifications import EligibilityNotice

__all__ = ["LedgerFeedProcessing"]


class LedgerFeedProcessing:
    """Loads eligibility files and writes enrollment and outcome feeds through ``ledger``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def process_eligibility(self, partner_id: str, source: Path, file_name: str, out_dir: Path) -> EligibilityResult:
        outcome = process_eligibility_file(self.ledger, partner_id, source, out_dir, file_name=file_name)
        rejected_whole = outcome.status is FileStatus.REJECTED
        notices = [] if rejected_whole else feeds_of(self.ledger).eligibility_notices(partner_id, outcome.result.digest)
        return EligibilityResult(
            outcome.rows_accepted, outcome.rows_rejected, rejected_whole, outcome.report_path, notices
        )

    def claim_eligibility_email(self, partner_id: str, notice: EligibilityNotice) -> str | None:
        return feeds_of(self.ledger).claim_eligibility_email(partner_id, notice)

    def reject_eligibility(self, partner_id: str, file_name: str, reason: str, out_dir: Path) -> Path:
        """The report of a file refused before loading (OpenPGP), in the loader's report format."""
        try:
            report_name = parse_eligibility_name(file_name, partner_id).report_name
        except InvalidCommand:
            report_name = f"{Path(file_name).name}.report.csv"
        report = out_dir / report_name
        write_csv(report, REPORT_COLUMNS, [("", "", "", "rejected", "file", f"openpgp: {reason}")])
        return report

    def write_enrollment(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        return write_enrollment_feed(self.ledger, partner_id, now.date(), out_dir)

    def write_outcome(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        return write_outcome_feed(self.ledger, partner_id, prior_month(now.date()), out_dir)
