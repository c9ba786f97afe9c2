"""The three feeds' names and columns (seed 001 §2.2-§2.4), and what a problem with an inbound file says.

File names: ``eligibility_<partner_id>_<YYYYMMDD>.csv`` (also ``.json``: one array of row objects, and
``.jsonl``/``.ndjson``: JSON Lines), ``enrollment_<partner_id>_<YYYYMMDD>.csv``,
``outcome_<partner_id>_<YYYYMM>.csv``; the eligibility report is ``eligibility_<partner>_<date>.report.csv``.

A :class:`RowProblem` names the row, the field and a fixed reason; it never carries the value that was
refused (which may be a name, an email or a date of birth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import check_partner_slug

ELIGIBILITY_COLUMNS: tuple[str, ...] = (
    "partner_member_id",
    "email",
    "first_name",
    "last_name",
    "date_of_birth",
    "gender",
    "state",
    "policy_type",
    "policy_start_date",
)
"""The eligibility feed's columns in the seed's order (§2.2); a CSV header must hold exactly these."""
OPTIONAL_COLUMNS = frozenset({"gender", "policy_start_date"})
EXTENSION_COLUMNS: tuple[str, ...] = ("email_opt_in",)
"""Our optional columns beyond the seed's (docs/feeds.md): a header may hold them or not; a row without one
reads as empty. ``email_opt_in`` (``Y``/``N``, ``true``/``false``, ``1``/``0``; empty or absent: not opted in)."""
ENROLLMENT_COLUMNS: tuple[str, ...] = (
    "partner_member_id",
    "enrollment_date",
    "kit_order_date",
    "sample_received_date",
    "result_delivery_date",
    "result_type",
    "subscription_status",
)
"""The enrollment feed's columns in the seed's order (§2.3); ``result_type`` is always empty (privacy)."""
OUTCOME_COLUMNS: tuple[str, ...] = ("metric", "value", "period_start", "period_end")
REPORT_COLUMNS: tuple[str, ...] = ("row", "line", "partner_member_id", "outcome", "field", "reason")

MAX_RECORD_BYTES = 64 * 1024
"""A physical line (CSV, JSON Lines) or a JSON array element longer than this is refused, never buffered whole."""


class FeedFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    JSON_LINES = "jsonl"


class FeedKind(StrEnum):
    ELIGIBILITY = "eligibility"
    ENROLLMENT = "enrollment"
    OUTCOME = "outcome"


class FileRejection(StrEnum):
    """Why an inbound file was rejected whole (nothing of it loads)."""

    EMPTY = "empty_file"
    NOT_UTF8 = "not_utf8"
    NOT_CSV = "not_csv"
    NOT_JSON = "not_json"
    HEADER = "header_mismatch"
    FILE_NAME = "file_name"
    RECORD_TOO_LARGE = "record_too_large"


class RowRefusal(StrEnum):
    """Why one record was skipped (the rest of the file loads)."""

    INVALID = "invalid_field"
    MISSING = "missing_field"
    NOT_ELIGIBLE = "not_eligible"
    MALFORMED = "malformed_record"
    TOO_LONG = "record_too_long"
    DUPLICATE = "duplicate_member_id"
    ERASED = "member_erased"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One skipped record: its 1-based data row, the physical line it starts on (None for a JSON array), the
    partner member id when it was readable and valid, the field and the reason. Never the refused value."""

    row: int
    line: int | None
    partner_member_id: str | None
    refusal: RowRefusal
    field: str | None
    reason: str

    def __reduce__(self) -> tuple[type[RowProblem], tuple[object, ...]]:
        """Pickled as its fields (batches cross to worker processes; the dataclass default is ~5x slower)."""
        return RowProblem, (self.row, self.line, self.partner_member_id, self.refusal, self.field, self.reason)

    def as_json(self) -> dict[str, object]:
        return {
            "row": self.row,
            "line": self.line,
            "partner_member_id": self.partner_member_id,
            "refusal": self.refusal.value,
            "field": self.field,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, value: dict[str, object]) -> RowProblem:
        line = value.get("line")
        pmid = value.get("partner_member_id")
        field = value.get("field")
        return cls(
            row=int(str(value["row"])),
            line=None if line is None else int(str(line)),
            partner_member_id=None if pmid is None else str(pmid),
            refusal=RowRefusal(str(value["refusal"])),
            field=None if field is None else str(field),
            reason=str(value["reason"]),
        )


class FileRejected(InvalidCommand):
    """An inbound file rejected whole: ``rejection`` says why, ``line`` where (when known)."""

    code = "FEED_FILE_REJECTED"

    def __init__(self, rejection: FileRejection, message: str, line: int | None = None) -> None:
        super().__init__(message, field="file", rejection=rejection.value, line=line)
        self.rejection = rejection
        self.line = line


_ELIGIBILITY_NAME = re.compile(r"eligibility_([a-z0-9_]{2,64})_(\d{8})\.(csv|json|jsonl|ndjson)")
_EXTENSIONS = {
    "csv": FeedFormat.CSV,
    "json": FeedFormat.JSON,
    "jsonl": FeedFormat.JSON_LINES,
    "ndjson": FeedFormat.JSON_LINES,
}


@dataclass(frozen=True, slots=True)
class EligibilityFileName:
    partner_id: str
    file_date: date
    format: FeedFormat

    @property
    def report_name(self) -> str:
        """``eligibility_<partner>_<YYYYMMDD>.report.csv`` (seed 001 §2.2's name with ``.report.csv``)."""
        return f"eligibility_{self.partner_id}_{self.file_date:%Y%m%d}.report.csv"


def parse_eligibility_name(name: str, partner_id: str) -> EligibilityFileName:
    """Check ``eligibility_<partner_id>_<YYYYMMDD>.<csv|json|jsonl|ndjson>`` for ``partner_id``, else
    :class:`FileRejected` (``file_name``): a file of another partner or of no date never loads."""
    partner_id = check_partner_slug(partner_id)
    match = _ELIGIBILITY_NAME.fullmatch(name)
    if match is None or match.group(1) != partner_id:
        raise FileRejected(
            FileRejection.FILE_NAME, f"file name must be eligibility_{partner_id}_YYYYMMDD.csv (or .json, .jsonl)"
        )
    try:
        day = date(int(match.group(2)[:4]), int(match.group(2)[4:6]), int(match.group(2)[6:]))
    except ValueError:
        raise FileRejected(FileRejection.FILE_NAME, "the file name's date is not a calendar date") from None
    return EligibilityFileName(partner_id, day, _EXTENSIONS[match.group(3)])


def enrollment_file_name(partner_id: str, day: date) -> str:
    return f"enrollment_{check_partner_slug(partner_id)}_{day:%Y%m%d}.csv"


def outcome_file_name(partner_id: str, month: date) -> str:
    return f"outcome_{check_partner_slug(partner_id)}_{month:%Y%m}.csv"
