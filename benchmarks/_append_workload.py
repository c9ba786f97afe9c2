"""The append benchmark's workload (benchmarks/append.py): case sizes and labels, and the aggregates written.

Both sides write the same shape: a created event carrying ``name: str`` (workload "new") and ``noted`` events
carrying ``text: str`` on existing aggregates (workload "steady"), each through an explicit event class and
``trigger_event``.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from ledger_core.engine.aggregate import LedgerAggregate, derive_id

BATCH = 100  # aggregates per save in cases b and d
CALLERS = 64  # concurrent callers in cases e and f
PROCESSES = 2  # worker processes in case g ...
CALLERS_PER_PROCESS = 32  # ... each with this many asyncio callers
WORKLOADS = ("new", "steady")
NOTE_TEXT = "claim status changed"  # the text of every steady-state event, on both sides

# Measured events per case. Full: roughly 5-10 s per case on a 2-core machine; quick: well under 1 s, so
# both workloads on both backends (26 cases, each in its own process) stay under a minute.
# fmt: off
FULL_EVENTS: dict[str, dict[str, int]] = {
    "sqlite": {
        "a": 15_000, "b": 60_000, "c": 10_000, "d": 60_000, "e": 32_000, "f": 38_400, "g": 38_400,
        "b2": 60_000, "c2": 10_000, "d2": 60_000, "e2": 32_000, "f2": 38_400, "g2": 38_400,
    },
    "postgresql": {
        "a": 2_000, "b": 40_000, "c": 2_000, "d": 40_000, "e": 16_000, "f": 12_800, "g": 12_800,
        "b2": 40_000, "c2": 2_000, "d2": 40_000, "e2": 16_000, "f2": 12_800, "g2": 12_800,
    },
}
QUICK_EVENTS: dict[str, dict[str, int]] = {
    "sqlite": {
        "a": 500, "b": 5_000, "c": 500, "d": 5_000, "e": 2_560, "f": 3_200, "g": 3_200,
        "b2": 5_000, "c2": 500, "d2": 5_000, "e2": 2_560, "f2": 3_200, "g2": 3_200,
    },
    "postgresql": {
        "a": 200, "b": 3_000, "c": 200, "d": 3_000, "e": 1_920, "f": 1_920, "g": 1_920,
        "b2": 3_000, "c2": 200, "d2": 3_000, "e2": 1_920, "f2": 1_920, "g2": 1_920,
    },
}
# fmt: on
WARMUP_SINGLE = 200  # events, cases a and c
WARMUP_BATCHES = 10  # saves of BATCH, cases b and d
WARMUP_PER_CALLER = 10  # saves per caller, cases e, f and g

LABELS = {
    "a": "(a) raw eventsourcing, 1 event/save",
    "b": f"(b) raw eventsourcing, {BATCH} events/save",
    "c": "(c) ledger, 1 caller, 1 event/save",
    "d": f"(d) ledger, 1 caller, {BATCH} events/save",
    "e": f"(e) ledger, {CALLERS} threads, save()",
    "f": f"(f) ledger, {CALLERS} asyncio tasks, save_async()",
    "g": f"(g) ledger, {PROCESSES} procs x {CALLERS_PER_PROCESS} asyncio tasks",
}
STEADY_LABELS = {
    "b2": f"(b2) raw eventsourcing, 1 agg, {BATCH} events/save",
    "c2": "(c2) ledger, 1 caller, 1 event/save",
    "d2": f"(d2) ledger, 1 caller, 1 agg, {BATCH} events/save",
    "e2": f"(e2) ledger, {CALLERS} threads, save(), own agg",
    "f2": f"(f2) ledger, {CALLERS} asyncio tasks, save_async(), own agg",
    "g2": f"(g2) ledger, {PROCESSES} procs x {CALLERS_PER_PROCESS} tasks, own agg",
}


# -- the workload: one tiny aggregate, created with a name ---------------------------------------------
class BenchAccount(LedgerAggregate):
    """Ledger side: like tests/support/toy.py ``Account``, reduced to its created event."""

    AGGREGATE_TYPE = "BenchAccount"

    class Opened(LedgerAggregate.Created):
        EVENT_TYPE: ClassVar[str] = "bench_account.opened"
        name: str

    class Noted(LedgerAggregate.Event):
        """Steady-state workload: an event on an existing aggregate."""

        EVENT_TYPE: ClassVar[str] = "bench_account.noted"
        text: str

        def apply(self, aggregate: BenchAccount) -> None:
            aggregate.last_note = self.text

    def __init__(self, partner_id: str | None, name: str) -> None:
        self.partner_id = partner_id
        self.name = name
        self.last_note = ""

    @classmethod
    def open(cls, name: str) -> BenchAccount:
        return cls._create(cls.Opened, id=derive_id("bench-account", name), partner_id=None, name=name)

    def note(self, text: str) -> None:
        self.trigger_event(self.Noted, text=text)


class RawAccount(Aggregate):
    """Raw eventsourcing side: the same shape (a created event with ``name``, a noted event with ``text``)."""

    class Noted(Aggregate.Event):
        text: str

        def apply(self, aggregate: RawAccount) -> None:
            aggregate.last_note = self.text

    def __init__(self, name: str) -> None:
        self.name = name
        self.last_note = ""

    def note(self, text: str) -> None:
        self.trigger_event(self.Noted, text=text)


class RawApp(Application[UUID]):
    """Plain eventsourcing application; persistence chosen by the env given to the constructor."""

    name = "BenchRaw"


def round_events(case: str, events: int) -> int:
    """Round down so every caller / every save gets the same share (b2..g2 share the units of b..g)."""
    unit = {"b": BATCH, "d": BATCH, "e": CALLERS, "f": CALLERS, "g": PROCESSES * CALLERS_PER_PROCESS}.get(case[0], 1)
    return max(unit, events // unit * unit)
