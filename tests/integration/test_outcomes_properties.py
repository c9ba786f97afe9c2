"""Hypothesis: the outcome counters kept incrementally equal a recomputation from the full log, on SQLite and
PostgreSQL, whatever sequence of eligibility, enrollment, result, NPS, action and erasure commands ran
(refused commands included)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.clock import SteppingClock
from support.databases import fresh_database

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.errors import LedgerError
from ledger_core.ledger import Ledger
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.outcomes import COUNTERS, ELIGIBLE
from ledger_core.shared.vocabulary import HealthAction, ResultType

PARTNERS = ("acme_life", "beta_health")
MEMBERS = tuple(f"m{index}" for index in range(5))
DAYS = tuple(date(2026, 1, 10) + timedelta(days=offset) for offset in range(0, 12, 2))
START = datetime(2026, 1, 9, tzinfo=UTC)

member = st.tuples(st.sampled_from(PARTNERS), st.sampled_from(MEMBERS))
day = st.sampled_from(DAYS).map(date.isoformat)
journey = st.tuples(
    st.just("journey"),
    member,
    st.sampled_from(("IA", "TX", "NY")),
    st.sampled_from((5, 4, 3, 2, 1)),
    st.sampled_from([r.value for r in ResultType]),
    st.lists(st.sampled_from(DAYS), min_size=4, max_size=4).map(sorted),
)
command = st.one_of(
    journey,
    journey,
    journey,
    st.tuples(st.just("upsert"), member, st.sampled_from(("IA", "TX", "NY"))),
    st.tuples(st.just("enroll"), member, day),
    st.tuples(st.just("kit"), member, day),
    st.tuples(st.just("sample"), member, day),
    st.tuples(st.just("result"), member, day, st.sampled_from([r.value for r in ResultType])),
    st.tuples(st.just("nps"), member, st.integers(0, 10), st.sampled_from(("overall", "counseling"))),
    st.tuples(st.just("counseling"), member, day),
    st.tuples(st.just("action"), member, st.sampled_from([a.value for a in HealthAction])),
    st.tuples(st.just("erase"), member),
)


def run(ledger: Ledger, step: tuple[Any, ...]) -> None:
    """Apply one command; the domain's refusals are part of the sequence, not failures."""
    kind, (partner, pmid), *args = step
    try:
        if kind == "journey":
            state, stages, result, days = args
            run(ledger, ("upsert", (partner, pmid), state))
            steps = [
                ("enroll", days[0].isoformat()),
                ("kit", days[1].isoformat()),
                ("sample", days[2].isoformat()),
                ("result", days[3].isoformat(), result),
            ]
            for name, *values in steps[: stages - 1]:
                run(ledger, (name, (partner, pmid), *values))
        elif kind == "upsert":
            record = EligibilityRecord(pmid, f"{pmid}@example.org", "Ann", "Lee", "1980-02-02", args[0], "Life")
            ledger.members.upsert(partner, record)
        elif kind == "enroll":
            ledger.enrollments.enroll(partner, pmid, args[0])
        elif kind == "kit":
            ledger.enrollments.order_kit(partner, pmid, args[0])
        elif kind == "sample":
            ledger.enrollments.receive_sample(partner, pmid, args[0], args[0])
        elif kind == "result":
            ledger.enrollments.deliver_result(partner, pmid, args[0], args[1])
        elif kind == "nps":
            ledger.enrollments.record_nps(partner, pmid, args[0], args[1])
        elif kind == "counseling":
            ledger.enrollments.schedule_counseling(partner, pmid, f"{args[0]}T10:00:00Z")
        elif kind == "action":
            ledger.enrollments.report_action(partner, pmid, args[0])
        else:
            ledger.members.erase(partner, pmid)
    except LedgerError:
        pass


def check_counters_match_the_log(ledger: Ledger) -> None:
    """Every counter, over every window of the test's days and up to every day, equals the recomputation."""
    recomputed = ledger.outcomes.recompute()
    stored = ledger.outcomes.store
    first, last = date(2026, 1, 1), date(2027, 12, 31)
    for partner in PARTNERS:
        assert stored.period_sums(partner, first, last) == recomputed.period_sums(partner, first, last)
        assert stored.month_sums(partner, first, last) == recomputed.month_sums(partner, first, last)
        for start in DAYS:
            for end in DAYS:
                if start <= end:
                    assert stored.period_sums(partner, start, end) == recomputed.period_sums(partner, start, end)
        for counter in COUNTERS:
            assert stored.total_through(partner, counter, last) == recomputed.total_through(partner, counter, last)
        assert stored.total_through(partner, ELIGIBLE, START.date()) == recomputed.total_through(
            partner, ELIGIBLE, START.date()
        )
        incremental = ledger.outcomes.report(partner, first, last, threshold=1)
        assert incremental == ledger.outcomes.recomputed_report(partner, first, last, threshold=1)
    assert stored.open_changes() == []  # every command settled its change (refused ones included)


def exercise(url: str, directory: str, steps: list[tuple[Any, ...]]) -> None:
    clock = SteppingClock(START, timedelta(minutes=7))
    with open_ledger(StorageConfig(Path(directory), url), clock=clock, restricted_states={"NY"}) as ledger:
        for step in steps:
            run(ledger, step)
        counted = ledger.outcomes.recompute().counts
        event(f"counters with a value: {min(len(counted), 10)}{'+' if len(counted) >= 10 else ''}")
        check_counters_match_the_log(ledger)
        rebuilt_rows = ledger.outcomes.rebuild()
        assert rebuilt_rows == len(ledger.outcomes.recompute().counts)
        check_counters_match_the_log(ledger)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(command, min_size=6, max_size=40))
def test_incremental_counters_equal_recomputation_sqlite(steps: list[tuple[Any, ...]], tmp_path_factory: Any) -> None:
    """SQLite: counters maintained command by command == counters recomputed from the whole log."""
    directory = tmp_path_factory.mktemp("outcomes")
    with fresh_database("sqlite") as url:
        exercise(url, str(directory), steps)


@pytest.mark.usefixtures("postgres_server")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(command, min_size=6, max_size=40))
def test_incremental_counters_equal_recomputation_postgresql(
    steps: list[tuple[Any, ...]], tmp_path_factory: Any, postgres_server: str
) -> None:
    """PostgreSQL: the same property on the production backend."""
    directory = tmp_path_factory.mktemp("outcomes-pg")
    with fresh_database("postgresql", postgres_server) as url:
        exercise(url, str(directory), steps)


class Crash(BaseException):
    """The process dying between the log's commit and the counter update (not a LedgerError)."""


def test_a_crash_between_log_and_counters_is_recovered_exactly_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands whose counter update never happened (upsert, enrollment, erasure) leave open changes;
    ``recover`` settles each once from the log (the member's changes chained), and the counters equal the
    recomputation again. The wall clock: every change stays younger than the recovery age during the run."""
    with open_ledger(StorageConfig(tmp_path, database_url), restricted_states={"NY"}) as ledger:
        run(ledger, ("journey", ("acme_life", "m0"), "IA", 5, "MZ", list(DAYS[:4])))
        run(ledger, ("upsert", ("beta_health", "m2"), "TX"))
        store = ledger.outcomes.store

        def crash(*args: object) -> bool:
            raise Crash

        monkeypatch.setattr(store, "settle_change", crash)
        with pytest.raises(Crash):
            run(ledger, ("upsert", ("acme_life", "m1"), "TX"))
        with pytest.raises(Crash):
            ledger.enrollments.enroll("acme_life", "m1", DAYS[1].isoformat())
        with pytest.raises(Crash):
            ledger.members.erase("acme_life", "m0")
        monkeypatch.undo()
        assert len(store.open_changes()) == 3
        first, last = date(2026, 1, 1), date(2027, 12, 31)
        assert store.period_sums("acme_life", first, last) != ledger.outcomes.recompute().period_sums(
            "acme_life", first, last
        )  # the counters missed the three updates
        assert ledger.outcomes.recover(min_age=timedelta(0)) == 3
        assert ledger.outcomes.recover(min_age=timedelta(0)) == 0
        check_counters_match_the_log(ledger)


def test_recovery_leaves_young_changes_to_their_command(database_url: str, tmp_path: Path) -> None:
    """A change younger than ``min_age`` may belong to a command still running elsewhere: left open; and
    a change settled by its command first is not counted again by a late recovery."""
    with open_ledger(StorageConfig(tmp_path, database_url)) as ledger:
        run(ledger, ("upsert", ("acme_life", "m0"), "IA"))
        projection = ledger.outcomes
        with projection.tracking("acme_life", "m0"):
            [change] = projection.store.open_changes()
            assert projection.recover() == 0  # opened just now: left to its command
        assert projection.store.open_changes() == []
        assert projection.store.settle_change(change.change_id, "acme_life", {(date.today(), ELIGIBLE): 5}) is False
        check_counters_match_the_log(ledger)


def test_a_command_first_settles_its_members_stale_change(database_url: str, tmp_path: Path) -> None:
    """A change left open (a failed counter update) is settled by the member's next command, up to that
    command's "before", so neither command is lost or counted twice."""
    clock = SteppingClock(START, timedelta(minutes=7))  # every change is stale by the next command
    with open_ledger(StorageConfig(tmp_path, database_url), clock=clock) as ledger:
        store = ledger.outcomes.store
        settle = store.settle_change
        failures = iter([True, True])  # the upsert's two attempts at settling fail; later ones work

        def flaky(change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
            if next(failures, False):
                raise Crash
            return settle(change_id, partner_id, deltas)

        store.settle_change = flaky  # type: ignore[method-assign]
        with pytest.raises(Crash):
            run(ledger, ("upsert", ("acme_life", "m0"), "IA"))
        assert len(store.open_changes()) == 1
        ledger.enrollments.enroll("acme_life", "m0", DAYS[0].isoformat())
        assert store.open_changes() == []
        check_counters_match_the_log(ledger)
