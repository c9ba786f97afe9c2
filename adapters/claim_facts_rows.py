"""The rows of the table-backed claim facts and the answers built from them (no SQL, no I/O).

Shared by :mod:`adapters.sqlite.claim_facts` and :mod:`adapters.postgres.claim_facts` (the one module per
backend that writes SQL for these tables) and :class:`adapters.table_claim_facts.TableClaimFacts`:

* :func:`decode_batch` turns log rows into a :class:`FactBatch` (only ``claim.submitted`` and
  ``document.registered`` entries decoded), and :meth:`FactBatch.rows` into the rows to insert, leaving out
  a claim already taken in, exactly as :meth:`ledger_core.claims.facts.ClaimFactsIndex.feed` does;
* :func:`request_of` says what to read for a chunk of queries (a few set-based reads), and :func:`answer`
  answers one query from what was read, with the same rules as
  :meth:`ledger_core.claims.facts.ClaimFactsIndex.snapshot` (so the answers are identical).

Hash keys are stored as the text the entry names: a lowercase-hex SHA-256 and its other spellings are
distinct texts, as they are distinct keys in the memory index. Amounts stay text; registration metadata
is JSON text, NULL when empty (answered as ``{}`` either way).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger_core.claims.facts import (
    CLAIM_SUBMITTED,
    DOCUMENT_REGISTERED,
    ClaimFactsSnapshot,
    FactsQuery,
    HashUsage,
    Registration,
    claim_reference,
    epoch_seconds,
)
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry

AmountGroup = tuple[str, str, str]
"""(partner id, claim type, currency) of an amount series."""
ReferenceKey = tuple[str, str, str]
"""(partner id, reference key, reference value) of a reference series."""


@dataclass(frozen=True, slots=True)
class ClaimFact:
    """What one ``claim.submitted`` entry adds (before the repeated-claim check)."""

    position: int
    claim_id: str
    partner_id: str
    hashes: tuple[str, ...]
    claim_type: str
    currency: str
    amount: str
    reference: tuple[str, str] | None
    epoch: int | None


@dataclass(frozen=True, slots=True)
class TableRows:
    """Rows to insert, one tuple per row in each table's column order (see the backends' ``SCHEMA``)."""

    claims: list[tuple[str, int]] = field(default_factory=list)
    uses: list[tuple[str, int, int, str, str]] = field(default_factory=list)
    amounts: list[tuple[str, str, str, int, str, str]] = field(default_factory=list)
    references: list[tuple[str, str, str, int, int, str]] = field(default_factory=list)
    registrations: list[tuple[str, str, int, str, str | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FactBatch:
    """The facts of the log entries ``start`` .. ``end - 1`` (``end``: the progress size once inserted)."""

    start: int
    end: int
    claims: tuple[ClaimFact, ...]
    registrations: tuple[tuple[str, str, int, str, str | None], ...]

    @property
    def claim_ids(self) -> list[str]:
        return sorted({fact.claim_id for fact in self.claims})

    def rows(self, known: Collection[str]) -> TableRows:
        """The rows to insert, leaving out claims in ``known`` (taken in before) and repeats in the batch."""
        rows = TableRows(registrations=list(self.registrations))
        seen = set(known)
        for fact in self.claims:
            if fact.claim_id in seen:
                continue
            seen.add(fact.claim_id)
            rows.claims.append((fact.claim_id, fact.position))
            for ordinal, digest in enumerate(fact.hashes):
                rows.uses.append((digest, fact.position, ordinal, fact.claim_id, fact.partner_id))
            rows.amounts.append(
                (fact.partner_id, fact.claim_type, fact.currency, fact.position, fact.claim_id, fact.amount)
            )
            if fact.reference is not None and fact.epoch is not None:
                key, value = fact.reference
                rows.references.append((fact.partner_id, key, value, fact.epoch, fact.position, fact.claim_id))
        return rows


def decode_batch(start: int, rows: Sequence[StoredRow]) -> FactBatch:
    """The facts of ``rows`` (log rows from position ``start`` on, in order, at least one)."""
    claims: list[ClaimFact] = []
    registrations: list[tuple[str, str, int, str, str | None]] = []
    for row in rows:
        if row.partner_id is None or row.type not in (CLAIM_SUBMITTED, DOCUMENT_REGISTERED):
            continue
        payload = decode_entry(row.entry).payload
        if row.type == DOCUMENT_REGISTERED:
            metadata = dict(payload["metadata"])
            encoded = json.dumps(metadata, ensure_ascii=False) if metadata else None
            registrations.append(
                (row.partner_id, str(payload["sha256"]), row.position, str(payload["document_type"]), encoded)
            )
        else:
            claims.append(_claim_fact(row, payload))
    return FactBatch(start, rows[-1].position + 1, tuple(claims), tuple(registrations))


def _claim_fact(row: StoredRow, payload: Any) -> ClaimFact:
    reference = claim_reference(payload["documents"])
    return ClaimFact(
        position=row.position,
        claim_id=row.aggregate_id,
        partner_id=str(row.partner_id),
        hashes=tuple(str(document["hash"]) for document in payload["documents"]),
        claim_type=str(payload["claim_type"]),
        currency=str(payload["currency"]),
        amount=str(payload["claim_amount"]),
        reference=reference,
        epoch=None if reference is None else epoch_seconds(str(payload["submitted_at"])),
    )


@dataclass(frozen=True, slots=True)
class FactsRequest:
    """What to read, as of one position, to answer a chunk of queries."""

    hashes: tuple[str, ...]
    claim_ids: tuple[str, ...]
    amount_groups: Mapping[AmountGroup, int]
    """Each series and how many of its newest amounts to read."""
    reference_values: tuple[str, ...]
    epoch_low: int
    epoch_high: int
    listing: tuple[str, str] | None = None
    """(partner id, hash): also read the ids of the partner's claims listing the hash (``claims_listing``)."""


NOTHING = FactsRequest(hashes=(), claim_ids=(), amount_groups={}, reference_values=(), epoch_low=0, epoch_high=0)
"""A request that reads no row."""


@dataclass(frozen=True, slots=True)
class FactsRead:
    """The rows a :class:`FactsRequest` read, every one from the entries before ``as_of``."""

    as_of: int
    uses: Mapping[str, list[tuple[str, str]]]
    """hash -> (claim id, partner id) of each use, in log order."""
    registrations: Mapping[tuple[str, str], tuple[str, str | None]]
    """(partner id, hash) -> (document type, metadata JSON or None) of the partner's first registration."""
    existing: frozenset[str]
    amounts: Mapping[AmountGroup, list[tuple[str, str]]]
    """series -> its newest (claim id, amount), oldest first."""
    references: Mapping[ReferenceKey, list[tuple[str, int]]]
    """reference -> (claim id, epoch seconds) of the claims naming it within the requested epochs."""
    listing: tuple[str, ...] = ()
    """The claim ids the request's ``listing`` asked for (once per listing of the hash), in log order."""


def request_of(queries: Sequence[FactsQuery]) -> FactsRequest:
    hashes = dict.fromkeys(digest for query in queries for digest in query.hashes)
    groups: dict[AmountGroup, int] = {}
    for query in queries:
        if query.history_size > 0:
            group = (query.partner_id, query.claim_type, query.currency)
            groups[group] = max(groups.get(group, 0), query.history_size + 1)
    referring = [query for query in queries if query.reference is not None]
    moments = [epoch_seconds(query.submitted_at) for query in referring]
    return FactsRequest(
        hashes=tuple(hashes),
        claim_ids=tuple(dict.fromkeys(query.claim_id for query in queries)),
        amount_groups=groups,
        reference_values=tuple(dict.fromkeys(query.reference[1] for query in referring if query.reference)),
        epoch_low=min((m - q.velocity_window_seconds for m, q in zip(moments, referring, strict=True)), default=0),
        epoch_high=max((m + q.velocity_window_seconds for m, q in zip(moments, referring, strict=True)), default=0),
    )


def answer(read: FactsRead, query: FactsQuery) -> ClaimFactsSnapshot:
    """The facts of ``query`` from ``read`` (the rules of ``ClaimFactsIndex.snapshot``)."""
    registrations: dict[str, Registration] = {}
    usage: dict[str, HashUsage] = {}
    for digest in query.hashes:
        found = read.registrations.get((query.partner_id, digest))
        if found is not None:
            metadata = {} if found[1] is None else json.loads(found[1])
            registrations[digest] = Registration(found[0], dict(metadata))
        others = [use for use in read.uses.get(digest, ()) if use[0] != query.claim_id]
        foreign = sum(1 for use in others if use[1] != query.partner_id)
        usage[digest] = HashUsage(len(others), foreign)
    return ClaimFactsSnapshot(
        as_of=read.as_of,
        registrations=registrations,
        usage=usage,
        amounts=_recent_amounts(read, query),
        reference_claims=_reference_claims(read, query),
    )


def _recent_amounts(read: FactsRead, query: FactsQuery) -> tuple[str, ...]:
    if query.history_size <= 0:
        return ()
    series = read.amounts.get((query.partner_id, query.claim_type, query.currency), [])
    window = series[-(query.history_size + 1) :]
    if query.claim_id in read.existing:  # a claim verified again: leave its own amount out
        return tuple([amount for claim_id, amount in window if claim_id != query.claim_id][-query.history_size :])
    return tuple([amount for _, amount in window[-query.history_size :]])


def _reference_claims(read: FactsRead, query: FactsQuery) -> int:
    if query.reference is None:
        return 0
    moment = epoch_seconds(query.submitted_at)
    return sum(
        1
        for claim_id, when in read.references.get((query.partner_id, *query.reference), ())
        if claim_id != query.claim_id and abs(when - moment) <= query.velocity_window_seconds
    )
