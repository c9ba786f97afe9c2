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


_Use = tuple[int, str, str]
"""(position, claim id, partner id) of a claim listing a hash: a plain tuple (no GC tracking)."""

_Key = bytes | str
"""A hash as the index keys it: the 32 bytes of a lowercase hex SHA-256 (65 bytes instead of 113 for the
text), the text itself for anything else (the two kinds never compare equal, so keys stay distinct)."""


def _key(digest: str) -> _Key:
    if len(digest) == 64:
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            return digest
        if raw.hex() == digest:
            return raw
    return digest


@dataclass(slots=True)
class _Series:
    """Entries in log order: positions (for ``bisect``) beside claim ids and values (parallel lists).

    With ``kept``, only the newest ``kept`` entries are guaranteed (at most ``2 * kept`` are held:
    trimmed in bulk); :attr:`dropped` counts the entries let go, so a question about older ones is
    refused rather than answered differently."""

    kept: int | None = None
    dropped: int = 0
    positions: list[int] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def add(self, position: int, claim_id: str, value: Any) -> None:
        self.positions.append(position)
        self.claims.append(claim_id)
        self.values.append(value)
        if self.kept is not None and len(self.positions) >= 2 * self.kept:
            cut = len(self.positions) - self.kept
            del self.positions[:cut], self.claims[:cut], self.values[:cut]
            self.dropped += cut

    def before(self, as_of: int, last: int | None = None) -> list[tuple[str, Any]]:
        """The entries below position ``as_of`` (only the ``last`` of them when given), oldest first."""
        first, cut = self._window(as_of, last)
        return list(zip(self.claims[first:cut], self.values[first:cut], strict=True))

    def values_before(self, as_of: int, last: int | None = None) -> list[Any]:
        """The values of :meth:`before`'s entries (no claim ids, no pairs built)."""
        first, cut = self._window(as_of, last)
        return self.values[first:cut]

    def _window(self, as_of: int, last: int | None) -> tuple[int, int]:
        cut = bisect.bisect_left(self.positions, as_of)
        first = 0 if last is None else cut - last
        if self.dropped and first < 0:
            raise ValueError(f"entries before position {as_of} are no longer kept (keep more than {last})")
        return max(0, first), cut

    def __len__(self) -> int:
        return len(self.positions)


class ClaimFactsIndex:
    """The facts of every ``claim.submitted`` and ``document.registered`` entry fed to it, in log order.

    Memory (the bound an operator plans with, ``docs/performance.md``, "Soak"): per claim its id and one
    tuple per listed hash; per registration one tuple (metadata only when present); partner ids, document
    types and hash keys shared. ``amounts_kept`` bounds each (partner, claim type, currency) amount
    series to its newest ``amounts_kept`` (at most twice that held): enough for every rule set's
    ``amount_history_size`` + 1 (the claim itself may be among them). The hash uses, registrations and
    reference series stay whole: a document's reuse and a reference's velocity look at all of the log.
    """

    def __init__(self, amounts_kept: int | None = None) -> None:
        self.size = 0
        """Every entry below this position has been fed (or skipped as irrelevant)."""
        self.amounts_kept = amounts_kept
        self._shared: dict[str, str] = {}
        """One string object per partner id and document type (rows decode a new one each time)."""
        self._uses: dict[_Key, _Use | list[_Use]] = {}
        """hash -> its one use, or the list of them once there are several."""
        self._amounts: dict[tuple[str, str, str], _Series] = {}
        self._references: dict[tuple[str, str, str], _Series] = {}
        self._registrations: dict[str, dict[_Key, tuple[int, str, Mapping[str, str] | None]]] = {}
        """partner -> hash -> (position, document type, metadata or None when empty)."""
        self._claims: dict[str, None] = {}
        """Claims taken in (a dict: about half a set's table at this size)."""

    def feed(self, position: int, event_type: str, aggregate_id: str, partner_id: str | None, payload: Any) -> None:
        """Take in one entry (positions must increase); other event types only advance :attr:`size`."""
        if position < self.size:
            raise ValueError(f"entry {position} fed after {self.size - 1}")
        self.size = position + 1
        if partner_id is None:
            return
        partner_id = self._shared.setdefault(partner_id, partner_id)
        if event_type == DOCUMENT_REGISTERED:
            registered = self._registrations.setdefault(partner_id, {})
            key = _key(str(payload["sha256"]))
            if key not in registered:
                document_type = str(payload["document_type"])
                metadata = dict(payload["metadata"]) or None
                registered[key] = (position, self._shared.setdefault(document_type, document_type), metadata)
        elif event_type == CLAIM_SUBMITTED and aggregate_id not in self._claims:
            self._claims[aggregate_id] = None
            for document in payload["documents"]:
                self._add_use(_key(str(document["hash"])), (position, aggregate_id, partner_id))
            amounts = (partner_id, str(payload["claim_type"]), str(payload["currency"]))
            series = self._amounts.get(amounts)
            if series is None:
                series = self._amounts[amounts] = _Series(self.amounts_kept)
            series.add(position, aggregate_id, str(payload["claim_amount"]))
            reference = claim_reference(payload["documents"])
            if reference is not None:
                series = self._references.setdefault((partner_id, *reference), _Series())
                series.add(position, aggregate_id, epoch_seconds(str(payload["submitted_at"])))

    def _add_use(self, key: _Key, use: _Use) -> None:
        known = self._uses.get(key)
        if known is None:
            self._uses[key] = use
        elif isinstance(known, list):
            known.append(use)
        else:
            self._uses[key] = [known, use]

    def _uses_of(self, digest: str) -> Sequence[_Use]:
        known = self._uses.get(_key(digest))
        return () if known is None else known if isinstance(known, list) else (known,)

    def skip_to(self, size: int) -> None:
        """Record that every entry below ``size`` has been seen (the rest were not facts)."""
        self.size = max(self.size, size)

    def footprint(self) -> dict[str, int]:
        """How many entries each structure holds (what the memory bound is stated in)."""
        return {
            "claims": len(self._claims),
            "hashes": len(self._uses),
            "registrations": sum(len(by_hash) for by_hash in self._registrations.values()),
            "amounts": sum(len(series) for series in self._amounts.values()),
            "references": sum(len(series) for series in self._references.values()),
            "shared_strings": len(self._shared),
        }

    def snapshot(self, query: FactsQuery, as_of: int | None = None) -> ClaimFactsSnapshot:
        """The facts from entries before ``as_of`` (default: everything fed so far)."""
        limit = self.size if as_of is None else min(as_of, self.size)
        registrations: dict[str, Registration] = {}
        usage: dict[str, HashUsage] = {}
        registered = self._registrations.get(query.partner_id, {})
        for digest in query.hashes:
            found = registered.get(_key(digest))
            if found is not None and found[0] < limit:
                registrations[digest] = Registration(found[1], dict(found[2] or {}))
            others = [use for use in self._uses_of(digest) if use[0] < limit and use[1] != query.claim_id]
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
        return [claim_id for _, claim_id, owner in self._uses_of(sha256) if owner == partner_id]

    def _recent_amounts(self, query: FactsQuery, limit: int) -> tuple[str, ...]:
        series = self._amounts.get((query.partner_id, query.claim_type, query.currency))
        if series is None or query.history_size <= 0:
            return ()
        if query.claim_id in self._claims:  # a claim verified again: leave its own amount out
            window = series.before(limit, last=query.history_size + 1)
            return tuple([amount for claim_id, amount in window if claim_id != query.claim_id][-query.history_size :])
        return tuple(series.values_before(limit, last=query.history_size + 1)[-query.history_size :])

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
