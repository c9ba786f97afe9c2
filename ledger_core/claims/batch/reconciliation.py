"""Nightly reconciliation (seed 000 §3.2 Pattern B): the partner's own list of claims against the ledger.

A ``reconcile_<partner>_<YYYYMMDD>[-<label>].csv|jsonl`` file lists, per claim, the partner's
``partnerClaimId``, amount, currency and status. Each line is ``matched``, a ``mismatch`` (the fields that
differ), ``missing_in_ledger``, ``duplicate_in_file`` or ``invalid``; then every claim of the partner in the
ledger that the list does not name is ``unknown_to_partner``. Nothing about a claim changes: the run records
``claimsfile.received`` and, once the report is written, ``claimsfile.completed`` with the counts and the
report's SHA-256, so an auditor can see the reconciliation ran and what it found (and an ``audit.alert``
webhook fires when anything differs). A run killed midway runs again whole (it only reads).

Claims are read :data:`_PAGE` at a time, only the type and entry of their rows, decoding only the fields
compared (:func:`~ledger_core.claims.batch.claim_rows.claim_views`). The claims the file does not name are
found from the partner's ``claim.submitted`` positions and ids alone (an index range, no entry read), against
the set of the ids the file named (their text, as the log holds them); only those unnamed are read whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID

from ledger_core.claims.batch.claim_rows import claim_views, fold_views, rows_reader
from ledger_core.claims.batch.claims_file import ClaimsFile, ClaimsFileStatus, claims_file_id
from ledger_core.claims.batch.formats import BatchFileRejected, BatchKind, LineOutcome, parse_claims_name
from ledger_core.claims.batch.importing import ImportReport, OpenFile, reject_file
from ledger_core.claims.batch.lines import ClaimReader, PartnerView, scan
from ledger_core.claims.claim import Claim
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.engine.ports import AggregateRowsReader
from ledger_core.shared.chunks import chunked
from ledger_core.shared.money import format_amount
from ledger_core.shared.service_support import save

_PAGE = 5_000


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the reconciliation report (matched lines are counted, not reported)."""

    outcome: LineOutcome
    line: int | None
    partner_claim_id: str | None
    claim_id: str | None = None
    fields: tuple[str, ...] = ()
    ledger: dict[str, str] | None = None
    partner: dict[str, str] | None = None
    reason: str | None = None


@dataclass
class ReconciliationRun:
    """One reconciliation in progress: iterate :meth:`findings` (writing the report), then :meth:`finish`."""

    app: LedgerApplication
    file: ClaimsFile
    reader: ClaimReader
    states: AggregateRowsReader
    counts: dict[LineOutcome, int] = field(default_factory=dict)
    lines: int = 0

    def findings(self) -> Iterator[Finding]:
        """The report's lines: the file's lines that do not match, then the claims the file does not name."""
        named: set[str] = set()
        for chunk in chunked(self.reader, _PAGE):
            ids = [None if line.claim_id is None else str(line.claim_id) for line in chunk]
            views = claim_views(self.states, [claim_id for claim_id in ids if claim_id is not None])
            for line, claim_id in zip(chunk, ids, strict=True):
                self.lines = line.line
                if claim_id is None or line.expected is None:
                    found = Finding(LineOutcome.INVALID, line.line, line.partner_claim_id, reason=line.reason)
                    yield self._count(found)
                    continue
                if claim_id in named:
                    found = Finding(LineOutcome.DUPLICATE_IN_FILE, line.line, line.partner_claim_id, claim_id)
                    yield self._count(found)
                    continue
                named.add(claim_id)
                ours = self._view(claim_id, views.get(claim_id))
                if ours == line.expected:  # matched: counted, not reported
                    self.counts[LineOutcome.MATCHED] = self.counts.get(LineOutcome.MATCHED, 0) + 1
                    continue
                yield self._count(_compare(line.line, line.partner_claim_id, claim_id, ours, line.expected))
        yield from (self._count(finding) for finding in self._unnamed(named))

    def finish(self, report_sha256: str) -> ImportReport:
        """Record the run (counts, the report's digest); call after the report is written."""
        self.file.complete(self.lines, dict(self.counts), report_sha256)
        save(self.app, self.file)
        return ImportReport.of(self.file)

    def _count(self, finding: Finding) -> Finding:
        self.counts[finding.outcome] = self.counts.get(finding.outcome, 0) + 1
        return finding

    def _view(self, claim_id: str, view: PartnerView | None) -> PartnerView | None:
        """The ledger's side of a claim: from its rows, else from the aggregate; None when there is no such claim."""
        if view is not None:
            return view
        try:
            claim = self.app.view(Claim, UUID(claim_id), "claim")
        except NotFound:
            return None
        return PartnerView(claim.claim_amount, claim.currency, claim.status)

    def _unnamed(self, named: set[str]) -> Iterator[Finding]:
        partner_id = str(self.file.partner_id)
        start, stop = 0, self.app.log_reader.log_size()
        while start < stop:
            page = self.states.partner_aggregates_of_type(
                partner_id, Claim.Submitted.EVENT_TYPE, start=start, stop=stop, limit=_PAGE
            )
            unnamed = [claim_id for _, claim_id in page if claim_id not in named]
            if unnamed:
                yield from self._unknown(unnamed)
            if len(page) < _PAGE:
                return
            start = page[-1][0] + 1

    def _unknown(self, claim_ids: list[str]) -> Iterator[Finding]:
        """The findings of claims the file does not name, in the order of ``claim_ids``: each read whole."""
        rows = self.states.rows_of_aggregates(claim_ids)
        views = fold_views((row.aggregate_id, row.type, row.entry) for row in rows)
        pcids = {
            row.aggregate_id: decode_entry(row.entry).payload["partner_claim_id"]
            for row in rows
            if row.type == Claim.Submitted.EVENT_TYPE
        }
        for claim_id in claim_ids:
            ours = self._view(claim_id, views.get(claim_id))
            yield Finding(
                LineOutcome.UNKNOWN_TO_PARTNER,
                None,
                pcids[claim_id],
                claim_id,
                ledger=None if ours is None else _view(ours),
            )


def _compare(line: int, pcid: str | None, claim_id: str, ours: PartnerView | None, expected: PartnerView) -> Finding:
    if ours is None:
        return Finding(LineOutcome.MISSING_IN_LEDGER, line, pcid, partner=_view(expected))
    differing = tuple(
        name for name in ("amount", "currency", "status") if getattr(ours, name) != getattr(expected, name)
    )
    if not differing:
        return Finding(LineOutcome.MATCHED, line, pcid, claim_id)
    names = tuple({"amount": "claimAmount"}.get(name, name) for name in differing)
    return Finding(LineOutcome.MISMATCH, line, pcid, claim_id, names, _view(ours), _view(expected))


def _view(view: PartnerView) -> dict[str, str]:
    return {
        "claimAmount": format_amount(view.amount, view.currency),
        "currency": view.currency.value,
        "status": view.status.value,
    }


class Reconciliation:
    """The reconciliation use case (``ledger.reconciliation``)."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app
        self.states = rows_reader(app.log_reader)

    @contextmanager
    def start(self, file_name: str, open_file: OpenFile) -> Iterator[ReconciliationRun | ImportReport]:
        """Begin reconciling ``file_name``: a run to drive (the file stays open while the context does), or
        the report of a file rejected whole or already reconciled (nothing is recorded again)."""
        name = parse_claims_name(file_name)
        if name.kind is not BatchKind.RECONCILE:
            raise InvalidCommand("not a reconciliation file (reconcile_<partner>_<YYYYMMDD>...)", field="file_name")
        try:
            with open_file() as stream:
                found = scan(stream, name.format, name.kind)
        except BatchFileRejected as rejected:
            yield reject_file(self.app, name.partner_id, file_name, open_file, rejected)
            return
        try:
            file = self.app.load(ClaimsFile, claims_file_id(name.partner_id, found.digest), "claims_file")
        except NotFound:
            file = ClaimsFile.receive(name.partner_id, file_name, found.digest, found.size, "")
            save(self.app, file)
        if file.status is not ClaimsFileStatus.LOADING:
            yield ImportReport.of(file)
            return
        with open_file() as stream:
            yield ReconciliationRun(
                self.app,
                file,
                ClaimReader(stream, name.format, name.partner_id, "", name.kind),
                self.states,
            )
