"""Opening a :class:`~ledger_core.ledger.Ledger` on real storage (the embedded default or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from adapters.claim_facts import LogDerivedClaimFacts
from adapters.keys.master import KeyWrapper, load_master_key
from adapters.keys.stores import PostgresKeyStore, SQLiteKeyStore
from adapters.log_recorder import system_clock
from adapters.outcomes.postgres import PostgresOutcomeStore
from adapters.outcomes.sqlite import SQLiteOutcomeStore
from adapters.storage import DEFAULT_DATA_DIR, StorageConfig, open_recorder
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.ports import Clock
from ledger_core.ledger import Ledger
from ledger_core.members.ports import EnrollmentLinks
from ledger_core.members.use_cases import MemberPolicy


def storage_config(location: str | Path | StorageConfig | None) -> StorageConfig:
    """A data directory, a ``sqlite:``/``postgresql://`` URL, a config, or None (``./.ledger-data``)."""
    if isinstance(location, StorageConfig):
        return location
    if location is None:
        return StorageConfig(DEFAULT_DATA_DIR)
    text = str(location)
    if text.startswith(("sqlite:", "postgres://", "postgresql://")):
        return StorageConfig(DEFAULT_DATA_DIR, database_url=text)
    return StorageConfig(Path(location))


def open_ledger(
    location: str | Path | StorageConfig | None = None,
    *,
    clock: Clock = system_clock,
    aggregates: Iterable[type[LedgerAggregate]] = ALL_AGGREGATES,
    restricted_states: Iterable[str] = (),
    member_policy: MemberPolicy | None = None,
    enrollment_links: EnrollmentLinks | None = None,
    max_batch_events: int = 4096,
) -> Ledger:
    """Open (creating if needed) the ledger at ``location`` (see :func:`storage_config`).

    Subject data keys live in the same database, wrapped by the master key of the data directory
    (or ``LEDGER_MASTER_KEY``). Claims are verified against facts derived from this same log
    (:class:`~adapters.claim_facts.LogDerivedClaimFacts`), as the server verifies them.
    """
    config = storage_config(location)
    recorder = open_recorder(config, clock=clock, max_batch_events=max_batch_events)
    wrapper = KeyWrapper(load_master_key(config.data_dir))
    key_store: SQLiteKeyStore | PostgresKeyStore
    outcome_store: SQLiteOutcomeStore | PostgresOutcomeStore
    if config.backend == "postgresql" and config.database_url is not None:
        key_store = PostgresKeyStore(config.database_url, wrapper)
        outcome_store = PostgresOutcomeStore(config.database_url)
    else:
        key_store = SQLiteKeyStore(config.sqlite_path(), wrapper)
        outcome_store = SQLiteOutcomeStore(config.sqlite_path())

    def close() -> None:
        recorder.close()
        key_store.close()
        outcome_store.close()

    return Ledger(
        recorder,
        recorder,
        key_store,
        clock=clock,
        claim_facts=LogDerivedClaimFacts(recorder),
        aggregates=aggregates,
        restricted_states=restricted_states,
        outcome_store=outcome_store,
        member_policy=member_policy,
        enrollment_links=enrollment_links,
        on_close=close,
    )
