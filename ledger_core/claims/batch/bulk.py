"""The bulk path of a historical import (issue 15): a chunk of new claims and its ``claimsfile.chunk_loaded``
in ONE anchored save, with the same events and bytes as submitting each claim through ``POST /api/v1/claims``.

Per claim, :meth:`Claims.submit` asks the facts port, saves the claim and its first verification, and the
next claim's facts include it. Here the chunk's facts are taken in one question as of the log size ``L``
(:meth:`~ledger_core.claims.facts.ClaimFacts.bulk_snapshot`); the claims decided before a claim in the chunk
are added from a chunk-local :class:`~ledger_core.claims.facts.ClaimFactsIndex`, at the positions they will
take, so every claim's inputs (``asOfPosition`` included) are those the per-claim path would record. The save
is anchored at ``L`` (:class:`~ledger_core.engine.sequencer.AnchoredDrafts`): if anything else reached the
log first it is refused whole and the chunk is decided again; after :data:`ANCHOR_ATTEMPTS` the chunk goes
claim by claim. A chunk naming a claim the ledger already holds also goes claim by claim (its outcome
depends on where that claim was recorded: see :mod:`~ledger_core.claims.batch.importing`).

**Overlap** (:meth:`BulkLoader.decide_after`, :meth:`~BulkLoader.submit`, :meth:`~BulkLoader.land`): while
one chunk's save commits (the group commit's thread, mostly waiting on the database), the next chunk is
decided on the log as it is plus that chunk's claims (an :class:`InFlight` carries their facts), anchored
where that save will end. Its save is queued only once the previous one has landed; if that one was
refused, the decision made on it is dropped and both chunks are decided again, one after the other. The
anchors keep it exact: a save lands only on the very log its facts describe.

Crash safety: the chunk's claims and its ``chunk_loaded`` commit together or not at all.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ledger_core.claims.batch.claims_file import ClaimsFile, LineResult
from ledger_core.claims.batch.formats import LineOutcome
from ledger_core.claims.batch.lines import ClaimLine
from ledger_core.claims.facts import (
    CLAIM_SUBMITTED,
    BulkFacts,
    ClaimFacts,
    ClaimFactsIndex,
    ClaimFactsSnapshot,
    FactsQuery,
    HashUsage,
)
from ledger_core.claims.submission import ClaimSubmission
from ledger_core.claims.verification import ClaimVerificationService, facts_query
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.errors import LogMoved

ANCHOR_ATTEMPTS = 3
DUPLICATE_REASON = "an earlier line has this partnerClaimId"


ClaimFact = tuple[int, str, str, dict[str, Any]]
"""(position, claim id, partner id, ``claim.submitted`` payload) of a decided claim: what the facts index reads."""


@dataclass(frozen=True, slots=True)
class BulkChunk:
    """A chunk decided as of ``as_of``: its new claims' entries (unsaved drafts, two per claim, in log order),
    every line's result, and the new claims' facts (for a chunk decided before this one lands)."""

    as_of: int
    drafts: tuple[EventDraft, ...]
    results: tuple[LineResult, ...]
    facts: tuple[ClaimFact, ...] = ()


@dataclass(frozen=True, slots=True)
class InFlight:
    """A chunk whose anchored save was queued (:meth:`BulkLoader.submit`) and may not have landed yet."""

    chunk: Sequence[ClaimLine]
    file_before: ClaimsFile
    """The file as it was before this chunk (a chunk decided again starts from it)."""
    file: ClaimsFile
    """The file as this save records it."""
    anchor: int
    end: int
    """The log size once the save has landed."""
    facts: tuple[ClaimFact, ...]
    """Its new claims' facts, at the positions they take."""
    imported: frozenset[str]
    positions: Future[list[int]]


def merged_facts(base: ClaimFactsSnapshot, chunk: ClaimFactsSnapshot, as_of: int, history: int) -> ClaimFactsSnapshot:
    """The facts of the log before ``base.as_of`` followed by the chunk's earlier claims, as of ``as_of``:
    what :meth:`ClaimFactsIndex.snapshot` answers once those claims are in the log (they are the partner's
    own, new claims: they add uses, amounts and references, never registrations)."""
    usage = {
        digest: HashUsage(
            used.other_claims + chunk.usage[digest].other_claims,
            used.other_partner_claims + chunk.usage[digest].other_partner_claims,
        )
        for digest, used in base.usage.items()
    }
    amounts = (base.amounts + chunk.amounts)[-history:] if history > 0 else ()
    return ClaimFactsSnapshot(
        as_of=as_of,
        registrations=base.registrations,
        usage=usage,
        amounts=amounts,
        reference_claims=base.reference_claims + chunk.reference_claims,
    )


class BulkLoader:
    """Decides and saves chunks of a claims file (see the module docstring)."""

    def __init__(self, app: LedgerApplication, facts: ClaimFacts, verification: ClaimVerificationService) -> None:
        self.app = app
        self.facts = facts
        self.verification = verification

    def load(self, file: ClaimsFile, chunk: Sequence[ClaimLine]) -> tuple[ClaimsFile, list[int]] | None:
        """Record ``chunk`` (claims and ``chunk_loaded``) in one anchored save; return the file as saved and the
        positions, or None when the chunk must go claim by claim (``file`` is left untouched)."""
        for _ in range(ANCHOR_ATTEMPTS):
            decided = self.decide(chunk)
            if decided is None:
                return None
            attempt = copy.deepcopy(file)  # ``file`` may be the cached aggregate: never mutate it unsaved
            attempt.record_chunk(chunk[-1].line, list(decided.results))
            try:
                return attempt, self.app.save_drafts(decided.drafts, attempt, anchored_at=decided.as_of)
            except LogMoved:
                continue
        return None

    def decide(self, chunk: Sequence[ClaimLine]) -> BulkChunk | None:
        """Decide every line of ``chunk`` as of the log's current size (None if a claim is in the ledger)."""
        queries = self._queries(chunk)
        found = self.facts.bulk_snapshot(queries)
        if found.existing:
            return None
        return self._decided(chunk, queries, found, (), found.as_of)

    def decide_after(self, chunk: Sequence[ClaimLine], flight: InFlight | None) -> BulkChunk | None:
        """Decide ``chunk`` while ``flight`` (the chunk before it) may still be committing: on the log as it is
        plus ``flight``'s claims, anchored where ``flight`` ends (:meth:`decide` without ``flight``). None when
        it cannot be decided so (a claim already in the ledger or in ``flight``, or a log that moved): then
        decide it once ``flight`` has landed."""
        if flight is None:
            return self.decide(chunk)
        queries = self._queries(chunk)
        found = self.facts.bulk_snapshot(queries)
        if found.existing or any(query.claim_id in flight.imported for query in queries):
            return None
        if found.as_of == flight.end:  # it landed meanwhile: the log holds its claims
            return self._decided(chunk, queries, found, (), found.as_of)
        if found.as_of != flight.anchor:
            return None
        return self._decided(chunk, queries, found, flight.facts, flight.end)

    def submit(self, file: ClaimsFile, chunk: Sequence[ClaimLine], decided: BulkChunk) -> InFlight:
        """Queue ``decided``'s anchored save (its claims and ``chunk``'s ``chunk_loaded``) without waiting."""
        attempt = copy.deepcopy(file)  # ``file`` may be the cached aggregate: never mutate it unsaved
        attempt.record_chunk(chunk[-1].line, list(decided.results))
        end = decided.as_of + len(decided.drafts) + len(attempt.pending_events)
        positions = self.app.submit_anchored(decided.drafts, attempt, anchored_at=decided.as_of)
        imported = frozenset(fact[1] for fact in decided.facts)
        return InFlight(chunk, file, attempt, decided.as_of, end, decided.facts, imported, positions)

    def land(self, flight: InFlight) -> tuple[ClaimsFile, list[int]] | None:
        """Wait for ``flight``'s save: the file as saved and the positions, or None when the log had moved
        (nothing was written: decide the chunk again, from ``flight.file_before``)."""
        try:
            return flight.file, flight.positions.result()
        except LogMoved:
            return None

    def _queries(self, chunk: Sequence[ClaimLine]) -> list[FactsQuery]:
        params = self.verification.params
        return [facts_query(line.submission, params) for line in chunk if line.submission is not None]

    def _decided(
        self,
        chunk: Sequence[ClaimLine],
        queries: Sequence[FactsQuery],
        found: BulkFacts,
        before: Sequence[ClaimFact],
        position: int,
    ) -> BulkChunk:
        """The chunk decided on ``found`` (the log as of ``found.as_of``) plus the claims ``before`` (decided
        after that log, not in it yet), its first entry at ``position``."""
        params = self.verification.params
        asked = iter(zip(queries, found.snapshots, strict=True))
        local = ClaimFactsIndex()
        for fact_position, claim_id, partner_id, payload in before:
            local.feed(fact_position, CLAIM_SUBMITTED, claim_id, partner_id, payload)
        imported: set[str] = set()
        start = position
        drafts: list[EventDraft] = []
        results: list[LineResult] = []
        facts: list[ClaimFact] = []
        for line in chunk:
            submission = line.submission
            if submission is None:
                results.append(
                    LineResult(line.line, LineOutcome.INVALID, line.partner_claim_id, None, line.field, line.reason)
                )
                continue
            query, base = next(asked)
            claim_id = query.claim_id  # the submission's claim id, as text (derived once per line)
            refused = _refusal(line.line, submission, claim_id, base, imported)
            if refused is not None:
                results.append(refused)
                continue
            merged = merged_facts(base, local.snapshot(query), position, params.amount_history_size)
            claim = self.verification.new_claim_drafts(submission, merged, claim_id)
            local.feed(position, CLAIM_SUBMITTED, claim_id, submission.partner_id, claim.submitted_payload)
            facts.append((position, claim_id, submission.partner_id, claim.submitted_payload))
            drafts += (claim.submitted, claim.verified)
            position += 2
            imported.add(claim_id)
            results.append(LineResult(line.line, LineOutcome.IMPORTED, submission.partner_claim_id, claim_id))
        return BulkChunk(start, tuple(drafts), tuple(results), tuple(facts))


def _refusal(
    line: int, submission: ClaimSubmission, claim_id: str, base: ClaimFactsSnapshot, imported: set[str]
) -> LineResult | None:
    """The per-claim path's refusals, in its order: an unregistered document, then a repeated claim."""
    pcid = submission.partner_claim_id
    for index, document in enumerate(submission.documents):
        if document.hash not in base.registrations:
            reason = f"document {document.hash} is not registered for the partner"
            return LineResult(line, LineOutcome.UNKNOWN_DOCUMENT, pcid, None, f"documents[{index}].hash", reason)
    if claim_id in imported:
        return LineResult(line, LineOutcome.DUPLICATE_IN_FILE, pcid, claim_id, None, DUPLICATE_REASON)
    return None
