"""The outcome counter stores, one contract on SQLite and PostgreSQL: signed deltas, range sums, the eligible
stock, rebuilds, and concurrent writers whose additions all land."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from adapters.postgres.outcomes import PostgresOutcomeStore
from adapters.sqlite.outcomes import SQLiteOutcomeStore
from adapters.storage import StorageConfig

JAN = [date(2026, 1, day) for day in range(1, 32)]


@pytest.fixture
def store(tmp_path: Path, database_url: str) -> Iterator[SQLiteOutcomeStore | PostgresOutcomeStore]:
    config = StorageConfig(tmp_path, database_url)
    opened: SQLiteOutcomeStore | PostgresOutcomeStore
    if config.backend == "postgresql":
        opened = PostgresOutcomeStore(database_url)
    else:
        opened = SQLiteOutcomeStore(config.sqlite_path())
    yield opened
    opened.close()


def test_deltas_sum_by_period_and_partner(store: SQLiteOutcomeStore | PostgresOutcomeStore) -> None:
    """Signed deltas add up per (partner, counter, day); sums respect period bounds and partners."""
    store.apply("acme", {(JAN[0], "eligible"): 5, (JAN[9], "enrolled"): 2, (JAN[20], "enrolled"): 1})
    store.apply("acme", {(JAN[9], "enrolled"): -1, (JAN[30], "eligible"): 1})
    store.apply("beta", {(JAN[9], "enrolled"): 7})
    assert store.period_sums("acme", JAN[0], JAN[30]) == {"eligible": 6, "enrolled": 2}
    assert store.period_sums("acme", JAN[9], JAN[9]) == {"enrolled": 1}
    assert store.period_sums("acme", JAN[10], JAN[19]) == {}
    assert store.total_through("acme", "eligible", JAN[29]) == 5
    assert store.total_through("acme", "eligible", date(2027, 1, 1)) == 6
    assert store.total_through("nobody", "eligible", JAN[30]) == 0
    store.apply("acme", {(date(2026, 2, 3), "enrolled"): 4})
    assert store.month_sums("acme", JAN[0], date(2026, 2, 28)) == {
        "2026-01": {"eligible": 6, "enrolled": 2},
        "2026-02": {"enrolled": 4},
    }
    store.apply("acme", {})  # nothing to do


def test_replace_all_and_concurrent_writers(store: SQLiteOutcomeStore | PostgresOutcomeStore) -> None:
    """A rebuild replaces everything; eight threads adding to the same counters lose no addition."""
    store.apply("acme", {(JAN[0], "eligible"): 99})
    store.replace_all({("acme", JAN[1], "eligible"): 3, ("beta", JAN[1], "tests_completed"): 4})
    assert store.period_sums("acme", JAN[0], JAN[30]) == {"eligible": 3}
    assert store.period_sums("beta", JAN[0], JAN[30]) == {"tests_completed": 4}

    def add() -> None:
        for _ in range(25):
            store.apply("acme", {(JAN[1], "eligible"): 1, (JAN[2], "enrolled"): 1})

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.period_sums("acme", JAN[0], JAN[30]) == {"eligible": 203, "enrolled": 200}
