"""Claims batch files (seed 000 §3.2 Pattern B): names, columns, and what is said about a file or a line.

File names: ``claims_<partner_id>_<YYYYMMDD>[-<label>].jsonl`` or ``.csv`` (a historical import),
``verify_<partner_id>_...`` (bulk verification: one claim id per line, :data:`ID_COLUMNS`),
``reconcile_<partner_id>_...`` (the partner's list, :data:`RECONCILE_COLUMNS`; report
``<stem>.report.jsonl``); the results
file of ``<stem>.<ext>`` is ``<stem>.results.jsonl``. JSON Lines carry the API's ClaimSubmission fields
(camelCase, ``documents`` as in the API); CSV carries :data:`CLAIM_COLUMNS`, ``documents`` written as
``type:sha256`` pairs separated by ``;``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import check_partner_slug

CLAIM_COLUMNS: tuple[str, ...] = (
    "partnerClaimId",
    "claimType",
    "claimAmount",
    "currency",
    "submittedAt",
    "verificationLevel",
    "documents",
)
"""A claims CSV's columns (any order); ``verificationLevel`` and ``documents`` may be left empty."""
ID_COLUMNS: tuple[str, ...] = ("claimId", "partnerClaimId")
"""A bulk verification file's columns (CSV header or JSON keys): each line names its claim by one of them."""
RECONCILE_COLUMNS: tuple[str, ...] = ("partnerClaimId", "claimAmount", "currency", "status")
"""A reconciliation file's columns: the partner's own view of each claim (status as seed 000 §5.2 names it)."""
REPORT_FORMAT = "proveniq-ledger/reconciliation-report/v1"
OPTIONAL_COLUMNS = frozenset({"verificationLevel", "documents"})
JSON_FIELDS = frozenset({*CLAIM_COLUMNS, "partnerId"})
MAX_LINE_BYTES = 256 * 1024
"""A line longer than this (a claim with 100 documents and metadata fits easily) is refused, never held."""
RESULTS_FORMAT = "proveniq-ledger/claims-results/v1"


class BatchKind(StrEnum):
    """What a claims file asks for, by its name's prefix."""

    IMPORT = "claims"
    VERIFY = "verify"
    RECONCILE = "reconcile"


class BatchFormat(StrEnum):
    CSV = "csv"
    JSON_LINES = "jsonl"


class BatchFileRejection(StrEnum):
    """Why a claims file was rejected whole (nothing of it loads)."""

    EMPTY = "empty_file"
    NOT_UTF8 = "not_utf8"
    NOT_CSV = "not_csv"
    HEADER = "header_mismatch"
    FILE_NAME = "file_name"


class LineOutcome(StrEnum):
    """What became of one line of a claims file."""

    IMPORTED = "imported"
    """A new claim: the same events as ``POST /api/v1/claims``."""
    ALREADY_IN_LEDGER = "already_in_ledger"
    """An identical claim was in the ledger before this file: reported, not duplicated."""
    DUPLICATE_IN_FILE = "duplicate_in_file"
    """An earlier line of this file has the same ``partnerClaimId``: the first one counts."""
    CONFLICT = "conflict"
    """The ledger holds this ``partnerClaimId`` with another payload (the API's ``DUPLICATE_CLAIM``)."""
    UNKNOWN_DOCUMENT = "unknown_document"
    """A referenced document hash is not registered for the partner."""
    INVALID = "invalid"
    """The line is not a valid claim (malformed, a bad field): ``field`` and ``reason`` say why."""
    REVERIFIED = "reverified"
    """Bulk verification: a new decision was recorded (``claim.verification_recorded``)."""
    UNCHANGED = "unchanged"
    """Bulk verification: the claim was verified again to the same outcome; nothing recorded."""
    DECIDED = "decided"
    """Bulk verification: the claim's decision is final (verified, rejected, flagged or awaiting review)."""
    NOT_FOUND = "not_found"
    """Bulk verification: no such claim of this partner (another partner's claim reads the same)."""
    MATCHED = "matched"
    """Reconciliation: the ledger agrees with the partner's line."""
    MISMATCH = "mismatch"
    """Reconciliation: the ledger holds the claim with another amount, currency or status (``field`` lists them)."""
    MISSING_IN_LEDGER = "missing_in_ledger"
    """Reconciliation: the partner lists a claim the ledger does not hold."""
    UNKNOWN_TO_PARTNER = "unknown_to_partner"
    """Reconciliation: the ledger holds a claim of the partner that its list does not name."""

    @property
    def is_discrepancy(self) -> bool:
        return self in (LineOutcome.MISMATCH, LineOutcome.MISSING_IN_LEDGER, LineOutcome.UNKNOWN_TO_PARTNER)

    @property
    def has_claim(self) -> bool:
        """Whether the line names a claim of the ledger (its results line carries status and proof)."""
        return self in _WITH_CLAIM


_WITH_CLAIM = frozenset(
    {
        LineOutcome.IMPORTED,
        LineOutcome.ALREADY_IN_LEDGER,
        LineOutcome.REVERIFIED,
        LineOutcome.UNCHANGED,
        LineOutcome.DECIDED,
    }
)


class BatchFileRejected(InvalidCommand):
    """The file cannot be read as a claims file at all."""

    code = "BATCH_FILE_REJECTED"

    def __init__(self, rejection: BatchFileRejection, message: str, line: int | None = None) -> None:
        super().__init__(message, rejection=rejection.value, line=line)
        self.rejection = rejection
        self.line = line


@dataclass(frozen=True, slots=True)
class ClaimsFileName:
    """A parsed claims file name."""

    partner_id: str
    day: date
    format: BatchFormat
    stem: str
    kind: BatchKind = BatchKind.IMPORT

    @property
    def results_name(self) -> str:
        return f"{self.stem}.results.jsonl"


_NAME = re.compile(
    r"^((?P<kind>claims|verify|reconcile)_(?P<partner>[a-z0-9_]{2,64})_(?P<day>\d{8})(?:-[A-Za-z0-9]{1,40})?)\.(?P<ext>jsonl|csv)$"
)


def parse_claims_name(name: str) -> ClaimsFileName:
    """Parse ``claims|verify|reconcile_<partner>_<YYYYMMDD>[-<label>].jsonl|csv``, else :class:`BatchFileRejected`."""
    match = _NAME.match(name)
    if match is None:
        raise BatchFileRejected(
            BatchFileRejection.FILE_NAME,
            "file name must be claims_, verify_ or reconcile_<partner_id>_<YYYYMMDD>[-<label>].jsonl or .csv",
        )
    try:
        day = date(int(match["day"][:4]), int(match["day"][4:6]), int(match["day"][6:]))
    except ValueError:
        raise BatchFileRejected(BatchFileRejection.FILE_NAME, "the file name's date is not a calendar date") from None
    partner_id = check_partner_slug(match["partner"])
    return ClaimsFileName(partner_id, day, BatchFormat(match["ext"]), match[1], BatchKind(match["kind"]))
