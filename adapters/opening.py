"""Opening a :class:`~ledger_core.ledger.Ledger` on real storage (the embedded default or PostgreSQL), and
starting the embedded sealer on it: the composition of stores (:mod:`adapters.storage`), keys
(:mod:`adapters.files`) and workers (:mod:`adapters.workers`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from adapters.files.master_key import KeyWrapper, load_master_key
from adapters.files.signing_key import ensure_signing_key
from adapters.log_recorder import system_clock
from adapters.memory.claim_facts import LogDerivedClaimFacts
from adapters.storage import (
    DEFAULT_DATA_DIR,
    StorageConfig,
    open_key_store,
    open_outcome_store,
    open_recorder,
    open_tree_store,
)
from adapters.workers.sealer import Report, SealerRunner, quiet
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.ports import Clock
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.loading import FeedPolicy
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
    feed_policy: FeedPolicy | None = None,
) -> Ledger:
    """Open (creating if needed) the ledger at ``location`` (see :func:`storage_config`).

    Subject data keys live in the same database, wrapped by the master key of the data directory
    (or ``LEDGER_MASTER_KEY``). Claims are verified against facts derived from this same log
    (:class:`~adapters.memory.claim_facts.LogDerivedClaimFacts`), as the server verifies them.
    """
    config = storage_config(location)
    recorder = open_recorder(config, clock=clock, max_batch_events=max_batch_events)
    wrapper = KeyWrapper(load_master_key(config.data_dir))
    key_store = open_key_store(config, wrapper)
    outcome_store = open_outcome_store(config)

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
        feed_policy=feed_policy,
        on_close=close,
    )


def start_embedded_sealer(
    config: StorageConfig,
    policy: SealPolicy | None = None,
    *,
    signing_key: Path | None = None,
    origin: str | None = None,
    clock: Clock = system_clock,
    report: Report = quiet,
    poll_interval: float = 0.05,
) -> SealerRunner:
    """The embedded default: open the tree store and key of ``config`` and seal in a thread. ``stop()`` it.

    ``poll_interval``: how often the idle runner asks whether a seal is due (and a follower whether it
    can lead), and how often its waiter reads the sealed size when another process seals.
    """
    signer = ensure_signing_key(config.data_dir, signing_key, origin)
    store = open_tree_store(config)
    sealer = Sealer(store, signer, clock, policy=policy)
    return SealerRunner(store, sealer, poll_interval=poll_interval, report=report).start()
