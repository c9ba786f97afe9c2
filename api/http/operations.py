"""What the HTTP handlers ask of the ledger, as blocking calls run in worker threads.

Each method takes the authenticated partner id and turns a request into service commands and reads
(``ledger_core`` services and ports only: no SQL here). A partner's view is always filtered by its id:
another partner's claim, document or log entry is reported exactly like a missing one (``NotFound``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from uuid import UUID

from api.verification import claim_verification
from ledger_core.claims.claim import Claim
from ledger_core.claims.documents import Document, DocumentResult
from ledger_core.claims.replay import ReplayCheck, replay_log
from ledger_core.claims.submission import ClaimSubmission
from ledger_core.claims.verification import ClaimVerificationService, VerifiedClaim
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import NotFound
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.engine.ports import PartnerLogReader
from ledger_core.ledger import Ledger
from proofs.bundle import InclusionProof

SCAN_CHUNK = 500
MAX_POSITION = 2**63 - 1
"""Log positions and tree sizes are signed 64-bit integers in storage (the API refuses larger ones)."""


@dataclass(frozen=True, slots=True)
class ClaimState:
    """A claim after a command, the position of its newest event, and whether the command created it."""

    claim: Claim
    head: int
    created: bool = False


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Filters of ``GET /api/v1/audit/logs``; times are normalized ``recordedAt`` strings."""

    limit: int
    starting_after: int | None = None
    type: str | None = None
    aggregate_id: str | None = None
    since: str | None = None
    until: str | None = None


class LedgerOperations:
    """The HTTP API's commands and queries over one :class:`Ledger` and its tree."""

    def __init__(
        self, ledger: Ledger, proofs: ProofService, verification: ClaimVerificationService | None = None
    ) -> None:
        self.ledger = ledger
        self.proofs = proofs
        self.verification = verification or claim_verification(ledger)
        reader = ledger.app.log_reader
        if not isinstance(reader, PartnerLogReader):
            raise TypeError("the log reader must read a partner's entries")
        self.partner_log: PartnerLogReader = reader

    # -- claims --------------------------------------------------------------------------------------
    def submit_claim(self, submission: ClaimSubmission) -> ClaimState:
        """Submit (idempotently) and verify: the claim and its first verification are one save."""
        result = self.verification.submit(submission)
        return self._state(result)

    def verify_claim(self, partner_id: str, claim_id: UUID) -> ClaimState:
        """Re-verify; a new outcome is recorded, the same outcome records nothing (see ClaimVerificationService)."""
        return self._state(self.verification.verify(claim_id, partner_id))

    def review_claim(self, partner_id: str, claim_id: UUID, *, decision: str, reviewer: str, notes: str) -> ClaimState:
        """An operations reviewer decides a flagged claim or a ``full`` one awaiting review.

        ``partner_id`` names the claim's partner (never inferred): a claim of another partner is NotFound.
        """
        self.ledger.claims.view(claim_id, partner_id)
        return self._state(self.verification.review(claim_id, decision=decision, reviewer=reviewer, notes=notes))

    def explain_claim(self, partner_id: str | None, claim_id: UUID) -> list[ReplayCheck]:
        """Recompute every recorded verification of the claim from the log (entries up to its newest event)."""
        claim = self.ledger.claims.view(claim_id, partner_id)
        head = self._head(claim)
        return replay_log(self.ledger.app.entries(0, head + 1), str(claim.id))

    def _state(self, result: VerifiedClaim) -> ClaimState:
        head = result.positions[-1] if result.positions else self._head(result.claim)
        return ClaimState(result.claim, head, result.created)

    def claim(self, partner_id: str, claim_id: UUID) -> Claim:
        """The partner's claim, read-only (never mutate it)."""
        return self.ledger.claims.view(claim_id, partner_id)

    def claim_state(self, partner_id: str, claim_id: UUID) -> ClaimState:
        """The partner's claim (read-only) and the log position of its newest event."""
        claim = self.ledger.claims.view(claim_id, partner_id)
        return ClaimState(claim, self._head(claim))

    def claim_rows(self, partner_id: str, claim_id: UUID) -> list[StoredRow]:
        """The claim's log entries, oldest first."""
        self.ledger.claims.view(claim_id, partner_id)
        return list(self.ledger.app.log_reader.read_aggregate_rows(str(claim_id)))

    def _head(self, claim: Claim) -> int:
        """Log position of the claim's latest event: one indexed row, not the whole history."""
        latest = self.ledger.app.recorder.select_events(claim.id, desc=True, limit=1)
        return decode_entry(latest[0].state).position

    # -- proofs --------------------------------------------------------------------------------------
    def row(self, position: int) -> StoredRow:
        rows = self.ledger.app.log_reader.read_rows(position, 1)
        if not rows or rows[0].position != position:
            raise NotFound("entry", str(position))
        return rows[0]

    def prove(self, position: int, size: int | None = None) -> tuple[StoredRow, InclusionProof, CheckpointRecord]:
        """The entry at ``position``, its inclusion proof and the checkpoint (of ``size``, default latest)."""
        proof, record = self.proofs.inclusion(position, size)
        return self.row(position), proof, record

    def partner_entry(self, partner_id: str, position: int) -> StoredRow:
        """The caller's entry at ``position``; someone else's (or none) is :class:`NotFound`."""
        rows = self.partner_log.read_partner_rows(partner_id, position, 1)
        if not rows or rows[0].position != position:
            raise NotFound("entry", str(position))
        return rows[0]

    # -- documents -----------------------------------------------------------------------------------
    def register_document(
        self,
        partner_id: str,
        *,
        sha256: str,
        document_type: str,
        media_type: str,
        size: int,
        metadata: Mapping[str, str],
    ) -> tuple[DocumentResult, Document]:
        result = self.ledger.documents.register(
            partner_id=partner_id,
            sha256=sha256,
            document_type=document_type,
            media_type=media_type,
            size_bytes=size,
            metadata=metadata,
        )
        # claims waiting on this document are verified again (also on a repeated upload: re-verifying
        # records only changed outcomes, so a retried upload completes what a failed one left undone)
        self.verification.document_registered(partner_id, result.sha256)
        return result, self.ledger.documents.get(partner_id, sha256)

    def document(self, partner_id: str, sha256: str) -> Document:
        return self.ledger.documents.get(partner_id, sha256)

    # -- the audit log -------------------------------------------------------------------------------
    def log_page(self, partner_id: str, query: LogQuery) -> tuple[list[StoredRow], bool]:
        """Up to ``query.limit`` of the partner's entries after the cursor, and whether more follow."""
        start = 0 if query.starting_after is None else query.starting_after + 1
        if query.since is not None:
            start = max(start, self._first_position_at(query.since))
        if start > MAX_POSITION:  # past the last possible position (a 64-bit column): nothing follows
            return [], False
        found: list[StoredRow] = []
        for row in self._candidates(partner_id, query, start):
            if query.until is not None and _recorded_at(row) > query.until:
                break  # recordedAt never decreases along the log: nothing later matches
            if _matches(row, query):
                found.append(row)
                if len(found) > query.limit:
                    break
        return found[: query.limit], len(found) > query.limit

    def _candidates(self, partner_id: str, query: LogQuery, start: int) -> Iterator[StoredRow]:
        """The partner's rows from ``start`` on, in order (one aggregate's when the query names it)."""
        if query.aggregate_id is not None:
            for row in self.ledger.app.log_reader.read_aggregate_rows(query.aggregate_id):
                if row.position >= start and row.partner_id == partner_id:
                    yield row
            return
        position = start
        while position <= MAX_POSITION and (
            rows := self.partner_log.read_partner_rows(partner_id, position, SCAN_CHUNK)
        ):
            yield from rows
            position = rows[-1].position + 1

    def _first_position_at(self, since: str) -> int:
        """The first position whose ``recordedAt`` is >= ``since`` (binary search: times never decrease)."""
        reader = self.ledger.app.log_reader
        low, high = 0, reader.log_size()
        while low < high:
            middle = (low + high) // 2
            rows = reader.read_rows(middle, 1)
            if rows and _recorded_at(rows[0]) < since:
                low = middle + 1
            else:
                high = middle
        return low


def _matches(row: StoredRow, query: LogQuery) -> bool:
    if query.type is not None and row.type != query.type:
        return False
    return query.since is None or _recorded_at(row) >= query.since


def _recorded_at(row: StoredRow) -> str:
    return decode_entry(row.entry).recorded_at
