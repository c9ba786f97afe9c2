"""Cross-claim facts the risk rules need, as of a log position: the :class:`ClaimFacts` port and its pure index.

A verification asks for a :class:`ClaimFactsSnapshot` of one claim: this partner's registration of
each listed hash, how many *other* claims list the hash (and how many of those belong to other
partners), this partner's most recent amounts for the claim type and currency, and how many other
claims of the partner name the same policy/claimant reference near the claim's ``submittedAt``.
Every fact is taken from the log entries *before* ``as_of`` and leaves out the claim itself, so the
same question asked of the same log prefix always has the same answer (replay, ``ledger claims
explain``).

:class:`ClaimFactsIndex` answers it from ``claim.submitted`` and ``document.registered`` entries fed in
log order (pure, in memory). Adapters keep one caught up with the stored log; auditors build one from
the log alone.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

CLAIM_SUBMITTED = "claim.submitted"
DOCUMENT_REGISTERED = "document.registered"
FACT_EVENT_TYPES = frozenset({CLAIM_SUBMITTED, DOCUMENT_REGISTERED})

REFERENCE_KEYS = ("policyReference", "claimantReference")
"""Document metadata keys naming the policy or claimant (seed 000 §5.1 has no such claim field; the
first of these keys found in the claim's documents, in document order, is the claim's reference)."""


@dataclass(frozen=True, slots=True)
class FactsQuery:
    """What one verification asks about other claims (see the module docstring)."""

    claim_id: str
    partner_id: str
    claim_type: str
    currency: str
    hashes: tuple[str, ...]
    reference: tuple[str, str] | None
    submitted_at: str
    history_size: int
    velocity_window_seconds: int


@dataclass(frozen=True, slots=True)
class Registration:
    """The claim partner's registration of a hash (``document.registered``)."""

    document_type: str
    metadata: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class HashUsage:
    other_claims: int = 0
    other_partner_claims: int = 0


@dataclass(frozen=True, slots=True)
class ClaimFactsSnapshot:
    """The facts as of log position ``as_of`` (entries ``< as_of``), the claim itself left out."""

    as_of: int
    registrations: Mapping[str, Registration]
    usage: Mapping[str, HashUsage]
    amounts: tuple[str, ...]
    reference_claims: int


class ClaimFacts(Protocol):
    """Port: cross-claim facts kept beside the log (adapters: ``adapters.memory.claim_facts.LogDerivedClaimFacts``)."""

    def snapshot(self, query: FactsQuery) -> ClaimFactsSnapshot:
        """The facts for ``query`` as of the newest log position the implementation has seen."""
        ...

    def claims_listing(self, partner_id: str, sha256: str) -> Sequence[str]:
        """Ids of ``partner_id``'s claims that list ``sha256`` (to re-verify them once it is registered)."""
        ...

    def bulk_snapshot(self, queries: Sequence[FactsQuery]) -> BulkFacts:
        """The facts of every query and which of their claims exist, all as of ONE log position (one
        catch-up): what a bulk import decides a chunk of claims on (``ledger_core.claims.batch.bulk``)."""
        ...


@dataclass(frozen=True, slots=True)
class BulkFacts:
    """:meth:`ClaimFacts.bulk_snapshot`: one snapshot per query, and the queried claim ids that have a
    ``claim.submitted`` entry, every answer from the entries before ``as_of``."""

    as_of: int
    snapshots: tuple[ClaimFactsSnapshot, ...]
    existing: frozenset[str]


def claim_reference(documents: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """``(key, value)`` of the first :data:`REFERENCE_KEYS` entry in the documents' metadata, or None."""
    for key in REFERENCE_KEYS:
        for document in documents:
            value = document.get("metadata", {}).get(key)
            if value:
                return key, str(value)
    return None


def epoch_seconds(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp())


_value = operator.itemgetter(1)


@dataclass(slots=True)
class _Series:
    """Entries in log order: positions (for ``bisect``) beside the values."""

    positions: list[int] = field(default_factory=list)
    values: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, position: int, claim_id: str, value: Any) -> None:
        self.positions.append(position)
        self.values.append((claim_id, value))

    def before(self, as_of: int, last: int | None = None) -> list[tuple[str, Any]]:
        """The entries below position ``as_of`` (only the ``last`` of them when given), oldest first."""
        cut = bisect.bisect_left(self.positions, as_of)
        return self.values[0 if last is None else max(0, cut - last) : cut]


class ClaimFactsIndex:
    """The facts of every ``claim.submitted`` and ``document.registered`` entry fed to it, in log order."""

    def __init__(self) -> None:
        self.size = 0
        """Every entry below this position has been fed (or skipped as irrelevant)."""
        self._uses: dict[str, list[tuple[int, str, str]]] = {}
        """hash -> (position, claim id, partner id) of every claim listing it (plain tuples: no GC tracking)."""
        self._amounts: dict[tuple[str, str, str], _Series] = {}
        self._references: dict[tuple[str, str, str], _Series] = {}
        self._registrations: dict[tuple[str, str], tuple[int, Registration]] = {}
        self._claims: set[str] = set()

    def feed(self, position: int, event_type: str, aggregate_id: str, partner_id: str | None, payload: Any) -> None:
        """Take in one entry (positions must increase); other event types only advance :attr:`size`."""
        if position < self.size:
            raise ValueError(f"entry {position} fed after {self.size - 1}")
        self.size = position + 1
        if partner_id is None:
            return
        if event_type == DOCUMENT_REGISTERED:
            key = (partner_id, str(payload["sha256"]))
            if key not in self._registrations:
                registration = Registration(str(payload["document_type"]), dict(payload["metadata"]))
                self._registrations[key] = (position, registration)
        elif event_type == CLAIM_SUBMITTED and aggregate_id not in self._claims:
            self._claims.add(aggregate_id)
            for document in payload["documents"]:
                self._uses.setdefault(str(document["hash"]), []).append((position, aggregate_id, partner_id))
            amounts = (partner_id, str(payload["claim_type"]), str(payload["currency"]))
            self._amounts.setdefault(amounts, _Series()).add(position, aggregate_id, str(payload["claim_amount"]))
            reference = claim_reference(payload["documents"])
            if reference is not None:
                series = self._references.setdefault((partner_id, *reference), _Series())
                series.add(position, aggregate_id, epoch_seconds(str(payload["submitted_at"])))

    def skip_to(self, size: int) -> None:
        """Record that every entry below ``size`` has been seen (the rest were not facts)."""
        self.size = max(self.size, size)

    def snapshot(self, query: FactsQuery, as_of: int | None = None) -> ClaimFactsSnapshot:
        """The facts from entries before ``as_of`` (default: everything fed so far)."""
        limit = self.size if as_of is None else min(as_of, self.size)
        registrations: dict[str, Registration] = {}
        usage: dict[str, HashUsage] = {}
        for digest in query.hashes:
            found = self._registrations.get((query.partner_id, digest))
            if found is not None and found[0] < limit:
                registrations[digest] = found[1]
            others = [use for use in self._uses.get(digest, ()) if use[0] < limit and use[1] != query.claim_id]
            foreign = sum(1 for use in others if use[2] != query.partner_id)
            usage[digest] = HashUsage(len(others), foreign)
        return ClaimFactsSnapshot(
            as_of=limit,
            registrations=registrations,
            usage=usage,
            amounts=self._recent_amounts(query, limit),
            reference_claims=self._reference_claims(query, limit),
        )

    def bulk_snapshot(self, queries: Sequence[FactsQuery]) -> BulkFacts:
        """Every query answered from everything fed so far (see :meth:`ClaimFacts.bulk_snapshot`)."""
        return BulkFacts(
            as_of=self.size,
            snapshots=tuple(self.snapshot(query) for query in queries),
            existing=frozenset(query.claim_id for query in queries if query.claim_id in self._claims),
        )

    def claims_listing(self, partner_id: str, sha256: str) -> list[str]:
        return [claim_id for _, claim_id, owner in self._uses.get(sha256, ()) if owner == partner_id]

    def _recent_amounts(self, query: FactsQuery, limit: int) -> tuple[str, ...]:
        series = self._amounts.get((query.partner_id, query.claim_type, query.currency))
        if series is None or query.history_size <= 0:
            return ()
        window = series.before(limit, last=query.history_size + 1)
        if query.claim_id in self._claims:  # a claim verified again: leave its own amount out
            return tuple([amount for claim_id, amount in window if claim_id != query.claim_id][-query.history_size :])
        return tuple(map(_value, window[-query.history_size :]))

    def _reference_claims(self, query: FactsQuery, limit: int) -> int:
        if query.reference is None:
            return 0
        series = self._references.get((query.partner_id, *query.reference))
        if series is None:
            return 0
        moment = epoch_seconds(query.submitted_at)
        return sum(
            1
            for claim_id, when in series.before(limit)
            if claim_id != query.claim_id and abs(when - moment) <= query.velocity_window_seconds
        )
