"""The newest claim facts, not yet in the ``claim_facts_*`` tables, held in one process (no SQL, no I/O).

:class:`adapters.table_claim_facts.TableClaimFacts` answers a question from the tables *as of the tail's
start* plus this tail (the entries from ``start`` to ``end``), so a question writes nothing: the tail is
written into the tables in one batch once it is long enough. The tail keeps every decoded fact (for that
batch) and, beside them, the facts an answer needs, keyed as the tables' reads are
(:class:`~adapters.claim_facts_rows.FactsRead`): :meth:`FactTail.over` merges the two into the read
``answer`` takes, with the rules of :class:`~ledger_core.claims.facts.ClaimFactsIndex` (a partner's first
registration of a hash; a claim id taken in once, the first ``claim.submitted`` of it counting).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from adapters.claim_facts_rows import AmountGroup, ClaimFact, FactBatch, FactsRead, FactsRequest, ReferenceKey

RegistrationRow = tuple[str, str, int, str, str | None]
"""(partner id, hash, position, document type, metadata JSON or None) of a ``document.registered``."""


@dataclass(slots=True)
class FactTail:
    """The facts of the log entries ``start`` .. ``end - 1`` (every entry below ``start`` is in the tables)."""

    start: int
    end: int = field(init=False)
    """Every entry below this has been taken (``start`` while empty)."""
    claims: list[ClaimFact] = field(default_factory=list)
    """Every decoded claim fact, repeats included (the tables' ``take_in`` leaves repeats out itself)."""
    registrations: list[RegistrationRow] = field(default_factory=list)
    _claim_ids: set[str] = field(default_factory=set)
    _uses: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _registered: dict[str, dict[str, tuple[str, str | None]]] = field(default_factory=dict)
    """hash -> partner id -> (document type, metadata) of the partner's first registration in the tail."""
    _amounts: dict[AmountGroup, list[tuple[str, str]]] = field(default_factory=dict)
    _references: dict[str, dict[ReferenceKey, list[tuple[str, int]]]] = field(default_factory=dict)
    """reference value -> (partner id, key, value) -> (claim id, epoch seconds), in log order."""

    def __post_init__(self) -> None:
        self.end = self.start

    def take(self, batch: FactBatch, known: Collection[str]) -> None:
        """Add ``batch`` (it must start at :attr:`end`); a claim in ``known`` (in the tables, before
        :attr:`start`) or already in the tail is kept for the tables but left out of answers."""
        if batch.start != self.end:
            raise ValueError(f"facts from {batch.start} added to a tail ending at {self.end}")
        self.end = batch.end
        self.claims.extend(batch.claims)
        self.registrations.extend(batch.registrations)
        for partner_id, digest, _, document_type, metadata in batch.registrations:
            self._registered.setdefault(digest, {}).setdefault(partner_id, (document_type, metadata))
        for fact in batch.claims:
            if fact.claim_id in known or fact.claim_id in self._claim_ids:
                continue
            self._claim_ids.add(fact.claim_id)
            for digest in fact.hashes:
                self._uses.setdefault(digest, []).append((fact.claim_id, fact.partner_id))
            group = (fact.partner_id, fact.claim_type, fact.currency)
            self._amounts.setdefault(group, []).append((fact.claim_id, fact.amount))
            if fact.reference is not None and fact.epoch is not None:
                key, value = fact.reference
                series = self._references.setdefault(value, {}).setdefault((fact.partner_id, key, value), [])
                series.append((fact.claim_id, fact.epoch))

    def batch_with(self, pending: Sequence[FactBatch]) -> FactBatch:
        """Everything the tail holds and then ``pending`` (batches from :attr:`end` on), as one batch for the
        tables; the tail itself is left as it was."""
        return FactBatch(
            self.start,
            pending[-1].end if pending else self.end,
            (*self.claims, *(fact for batch in pending for fact in batch.claims)),
            (*self.registrations, *(row for batch in pending for row in batch.registrations)),
        )

    def over(self, read: FactsRead, request: FactsRequest) -> FactsRead:
        """``read`` (the tables as of :attr:`start`, for ``request``) with the tail's facts after it: the read
        of the entries before :attr:`end`."""
        uses = {digest: [*read.uses.get(digest, ()), *self._uses.get(digest, ())] for digest in request.hashes}
        registrations = dict(read.registrations)
        for digest in request.hashes:
            for partner_id, registered in self._registered.get(digest, {}).items():
                registrations.setdefault((partner_id, digest), registered)
        amounts = {
            group: [*read.amounts.get(group, ()), *self._amounts.get(group, ())][-newest:]
            for group, newest in request.amount_groups.items()
        }
        references = {key: list(found) for key, found in read.references.items()}
        for value in request.reference_values:
            for key, series in self._references.get(value, {}).items():
                within = [use for use in series if request.epoch_low <= use[1] <= request.epoch_high]
                if within:
                    references.setdefault(key, []).extend(within)
        existing = read.existing | {claim_id for claim_id in request.claim_ids if claim_id in self._claim_ids}
        listing = read.listing
        if request.listing is not None:
            partner_id, sha256 = request.listing
            listing += tuple(claim_id for claim_id, owner in self._uses.get(sha256, ()) if owner == partner_id)
        return FactsRead(self.end, uses, registrations, frozenset(existing), amounts, references, listing)
