"""Many claims read at once from their log rows (results files, reconciliation): one query for a few hundred
claims instead of rebuilding each aggregate (a query and an event replay per claim).

:func:`claim_states` folds each claim's rows as :class:`~ledger_core.claims.claim.Claim` applies them: the
amount and currency of ``claim.submitted``, the status set by each ``claim.verification_recorded``,
``claim.status_changed`` and ``claim.review_resolved``, the newest verification. A claim with any other event
type is left out: the caller rebuilds that one through the aggregate (no second copy of its rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledger_core.claims.claim import Claim
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.ports import AggregateRowsReader
from ledger_core.shared.money import Currency
from ledger_core.shared.vocabulary import ClaimStatus

_STATUS_FIELD = {
    Claim.VerificationRecorded.EVENT_TYPE: "status",
    Claim.StatusChanged.EVENT_TYPE: "status",
    Claim.ReviewResolved.EVENT_TYPE: "decision",
}


@dataclass(frozen=True, slots=True)
class ClaimState:
    """A claim as its rows say: the fields a results or reconciliation line shows, and its newest row."""

    amount: Decimal
    currency: Currency
    status: ClaimStatus
    verification: dict[str, Any] | None
    """The newest ``claim.verification_recorded`` payload, if any."""
    newest: StoredRow


def rows_reader(reader: object) -> AggregateRowsReader:
    """``reader`` as an :class:`AggregateRowsReader` (both storage backends' log readers are)."""
    if not isinstance(reader, AggregateRowsReader):
        raise TypeError("the log reader must read many aggregates' rows at once")
    return reader


def claim_states(reader: AggregateRowsReader, claim_ids: Sequence[str]) -> dict[str, ClaimState]:
    """The states of those of ``claim_ids`` that exist and hold only the four claim event types above."""
    grouped: dict[str, list[StoredRow]] = {}
    for row in reader.rows_of_aggregates(claim_ids):
        grouped.setdefault(row.aggregate_id, []).append(row)
    states = {}
    for claim_id, rows in grouped.items():
        state = _fold(rows)
        if state is not None:
            states[claim_id] = state
    return states


def _fold(rows: list[StoredRow]) -> ClaimState | None:
    if rows[0].type != Claim.Submitted.EVENT_TYPE:
        return None
    submitted = decode_entry(rows[0].entry).payload
    status, verification = ClaimStatus.SUBMITTED, None
    for row in rows[1:]:
        field = _STATUS_FIELD.get(row.type)
        if field is None:
            return None
        payload = decode_entry(row.entry).payload
        status = ClaimStatus(payload[field])
        if row.type == Claim.VerificationRecorded.EVENT_TYPE:
            verification = payload
    return ClaimState(
        Decimal(submitted["claim_amount"]), Currency(submitted["currency"]), status, verification, rows[-1]
    )
