"""Many claims read at once from their log rows (results files, reconciliation): one query for a few hundred
claims instead of rebuilding each aggregate (a query and an event replay per claim).

:func:`claim_states` folds each claim's rows as :class:`~ledger_core.claims.claim.Claim` applies them: the
amount and currency of ``claim.submitted``, the status set by each ``claim.verification_recorded``,
``claim.status_changed`` and ``claim.review_resolved``, the newest verification. A claim with any other event
type is left out: the caller rebuilds that one through the aggregate (no second copy of its rules).

:func:`claim_views` folds the same way to the three fields a reconciliation compares, from the rows' type and
entry alone (:meth:`~ledger_core.engine.ports.AggregateRowsReader.entries_of_aggregates`), decoding only the
fields it reads (msgspec Structs skip the rest of the entry: the verification's inputs are most of its bytes).
The entries are not validated as envelopes here (``ledger verify`` does that); a field missing or of the wrong
type is a :class:`~ledger_core.engine.errors.MalformedEntry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from ledger_core.claims.batch.lines import PartnerView
from ledger_core.claims.claim import Claim
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import MalformedEntry
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


class _Amount(msgspec.Struct):
    claim_amount: str | int
    currency: str


class _Submitted(msgspec.Struct):
    payload: _Amount


class _Status(msgspec.Struct):
    status: str | None = None
    decision: str | None = None


class _StatusChange(msgspec.Struct):
    payload: _Status


_SUBMITTED = msgspec.json.Decoder(_Submitted)
_STATUS_CHANGE = msgspec.json.Decoder(_StatusChange)
_CURRENCIES = {currency.value: currency for currency in Currency}
_STATUSES = {status.value: status for status in ClaimStatus}


def claim_views(reader: AggregateRowsReader, claim_ids: Sequence[str]) -> dict[str, PartnerView]:
    """Amount, currency and status of those of ``claim_ids`` that exist and hold only the four claim event
    types above (as :func:`claim_states`, without the verification and the newest row)."""
    return fold_views(reader.entries_of_aggregates(claim_ids))


def fold_views(entries: Iterable[tuple[str, str, bytes]]) -> dict[str, PartnerView]:
    """:func:`claim_views` of ``(claim id, type, entry)`` rows, each claim's in version order (claims may
    interleave: position order will do)."""
    views: dict[str, PartnerView | None] = {}
    try:
        for claim_id, kind, entry in entries:
            if claim_id not in views:
                views[claim_id] = _submitted(entry) if kind == Claim.Submitted.EVENT_TYPE else None
                continue
            view = views[claim_id]
            if view is None:
                continue
            field = _STATUS_FIELD.get(kind)
            views[claim_id] = None if field is None else PartnerView(view.amount, view.currency, _status(entry, field))
    except (msgspec.DecodeError, KeyError) as error:
        raise MalformedEntry(f"a claim entry without the fields a reconciliation reads: {error}") from error
    return {claim_id: view for claim_id, view in views.items() if view is not None}


def _submitted(entry: bytes) -> PartnerView:
    payload = _SUBMITTED.decode(entry).payload
    return PartnerView(Decimal(payload.claim_amount), _CURRENCIES[payload.currency], ClaimStatus.SUBMITTED)


def _status(entry: bytes, field: str) -> ClaimStatus:
    payload = _STATUS_CHANGE.decode(entry).payload
    value = payload.status if field == "status" else payload.decision
    if value is None:
        raise KeyError(field)
    return _STATUSES[value]
