"""Opening a :class:`~ledger_core.ledger.Ledger` on real storage (the embedded default or PostgreSQL), and
starting the embedded sealer on it: the composition of stores (:mod:`adapters.storage`), keys
(:mod:`adapters.files`) and workers (:mod:`adapters.workers`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from adapters.feed_preparation import ProcessPreparer
from adapters.files.master_key import KeyWrapper, resolve_master_key
from adapters.files.published_checkpoint import PublishedCheckpoint, check_not_rolled_back, published_path
from adapters.files.signing_key import ensure_signing_key, load_signing_key, signing_key_path
from adapters.log_recorder import system_clock
from adapters.memory.claim_facts import LogDerivedClaimFacts
from adapters.ports import ManagedTreeStore
from adapters.storage import (
    DEFAULT_DATA_DIR,
    ClaimFactsMode,
    StorageConfig,
    open_fact_tables,
    open_key_store,
    open_outcome_store,
    open_recorder,
    open_theme_assets,
    open_tree_store,
)
from adapters.table_claim_facts import TableClaimFacts
from adapters.workers.sealer import Report, SealerRunner, SealObserver, quiet
from adapters.workers.witnesses import WitnessCollector, WitnessEndpoint
from ledger_core.claims.facts import ClaimFacts
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.application import DEFAULT_AGGREGATE_CACHE_SIZE
from ledger_core.engine.audit_log import AuditLog
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.engine.ports import Clock, LogReader
from ledger_core.engine.right_edge import RightEdge
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.loading import FeedPolicy
from ledger_core.members.ports import EnrollmentLinks
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.members.use_cases import MemberPolicy


def _is_url(location: str | Path | StorageConfig | None) -> bool:
    return isinstance(location, str) and location.startswith(("sqlite:", "postgres://", "postgresql://"))


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


def open_claim_facts(config: StorageConfig, log: LogReader) -> tuple[ClaimFacts, Callable[[], None]]:
    """The claim facts ``config.facts_mode`` names, read from ``log``, and what closes them: the tables of
    the same database (:class:`~adapters.table_claim_facts.TableClaimFacts`) or an index in this process
    (:class:`~adapters.memory.claim_facts.LogDerivedClaimFacts`, nothing to close)."""
    if config.facts_mode is ClaimFactsMode.MEMORY:
        return LogDerivedClaimFacts(log), _nothing_to_close
    tables = open_fact_tables(config)
    facts = TableClaimFacts(log, tables, flush_in_background=True)
    return facts, facts.close


def _nothing_to_close() -> None:
    """What closes facts held in memory."""


def open_ledger(
    location: str | Path | StorageConfig | None = None,
    *,
    clock: Clock = system_clock,
    aggregates: Iterable[type[LedgerAggregate]] = ALL_AGGREGATES,
    restricted_states: Iterable[str] = (),
    member_policy: MemberPolicy | None = None,
    enrollment_links: EnrollmentLinks | None = None,
    max_batch_events: int = 4096,
    master_key: bytes | Path | None = None,
    feed_policy: FeedPolicy | None = None,
    aggregate_cache_size: int = DEFAULT_AGGREGATE_CACHE_SIZE,
) -> Ledger:
    """Open (creating if needed) the ledger at ``location`` (see :func:`storage_config`).

    Subject data keys live in the same database, wrapped by the master key: ``master_key`` (32 bytes,
    or the path of a key file), else ``LEDGER_MASTER_KEY`` / ``LEDGER_MASTER_KEY_FILE``, else
    ``master.key`` in the data directory, which a bare database URL does not name: then the key must
    be given (:func:`~adapters.files.master_key.resolve_master_key`). A key other than the one the
    ledger was first opened with is refused (:class:`~adapters.ports.MasterKeyMismatch`).
    Claims are verified against facts derived from this same log, as the server verifies them: kept in
    tables of the same database (:class:`~adapters.table_claim_facts.TableClaimFacts`) or in this process
    (:class:`~adapters.memory.claim_facts.LogDerivedClaimFacts`), as ``config.facts_mode`` says.
    """
    config = storage_config(location)
    key = resolve_master_key(master_key, None if _is_url(location) else config.data_dir)
    wrapper = KeyWrapper(key)
    opened = ExitStack()  # closed by the ledger, or here if anything fails: nothing opened is left open
    try:
        recorder = open_recorder(config, clock=clock, max_batch_events=max_batch_events)
        opened.callback(recorder.close)
        key_store = open_key_store(config, wrapper)
        opened.callback(key_store.close)
        outcome_store = open_outcome_store(config)
        opened.callback(outcome_store.close)
        theme_assets = open_theme_assets(config)
        opened.callback(theme_assets.close)
        claim_facts, close_facts = open_claim_facts(config, recorder)
        opened.callback(close_facts)
        preparer = _feed_preparer(config, key, feed_policy, opened, PersonalDataVault(key_store))
        return Ledger(
            recorder,
            recorder,
            key_store,
            clock=clock,
            claim_facts=claim_facts,
            aggregates=aggregates,
            restricted_states=restricted_states,
            outcome_store=outcome_store,
            member_policy=member_policy,
            enrollment_links=enrollment_links,
            feed_policy=feed_policy,
            feed_preparer=preparer,
            theme_assets=theme_assets,
            on_close=opened.close,
            aggregate_cache_size=aggregate_cache_size,
        )
    except BaseException:  # e.g. a refused master key or an invalid cache size
        opened.close()
        raise


def _feed_preparer(
    config: StorageConfig, master_key: bytes, policy: FeedPolicy | None, opened: ExitStack, local: PersonalDataVault
) -> ProcessPreparer | None:
    """The worker processes that prepare big eligibility files (``policy.workers``), closed with ``opened``.

    On PostgreSQL the loading process takes work back from them with ``local`` (its own vault) while it waits:
    it is otherwise idle there (1M rows: 104 s against 112). On SQLite it does not: the loader is as busy as
    the worker (measured slower with the keys in the ledger's file, 172 s against 162, and no faster since they
    have their own: docs/performance.md, "Bulk path, sixth pass"; four noisy pairs in session 13 did not
    decide it either: "Bulk path, seventh pass"). There the loader's feeder thread checks the rows of a batch
    itself while the workers are behind, and they only seal it (``check_here``: "Bulk path, tenth pass")."""
    if policy is None or policy.workers < 1:
        return None
    on_postgres = config.postgres_url() is not None
    preparer = ProcessPreparer(
        config, master_key, policy.workers, local if on_postgres else None, check_here=not on_postgres
    )
    opened.callback(preparer.close)
    return preparer


def seal_pending(
    location: str | Path | StorageConfig | None = None,
    *,
    signing_key: Path | None = None,
    origin: str | None = None,
    clock: Clock = system_clock,
) -> CheckpointRecord | None:
    """Seal every entry waiting now (one pass, like ``ledger seal``) and return the latest signed checkpoint
    (None while the log is empty). The checkpoint key is the data directory's ``checkpoint.key`` (created
    on first use) or ``signing_key``. When another process holds the sealer lock (PostgreSQL), it seals and
    this call only reads the latest checkpoint. A database behind the checkpoint last published (kept
    beside the key) raises :class:`~ledger_core.engine.merkle.RolledBack` before anything is signed."""
    config = storage_config(location)
    store = open_tree_store(config)
    try:
        check_not_rolled_back(store, published_path(config.data_dir, signing_key))  # never sign over a rollback
        latest = store.latest_checkpoint()
        signer = ensure_signing_key(
            config.data_dir, signing_key, origin, sealed_as=None if latest is None else latest.body().origin
        )
        if store.try_acquire_leadership():
            Sealer(store, signer, clock).seal_all()
        latest = store.latest_checkpoint()
        if latest is not None:
            PublishedCheckpoint(published_path(config.data_dir, signing_key)).sealed(latest)
        return latest
    finally:
        store.close()


def verifier_key(location: str | Path | StorageConfig | None = None, *, signing_key: Path | None = None) -> str:
    """The C2SP verifier key of the checkpoint signing key (what auditors pin; reads only the key file)."""
    path, _ = signing_key_path(storage_config(location).data_dir, signing_key)
    return load_signing_key(path).verifier().vkey


@contextmanager
def open_audit_log(location: str | Path | StorageConfig | None = None) -> Iterator[AuditLog]:
    """The audit use case over an existing ledger (entries, their proof documents, checkpoints and
    consistency proofs: :class:`~ledger_core.engine.audit_log.AuditLog`), closed on exit."""
    config = storage_config(location)
    recorder = open_recorder(config)
    try:
        store = open_tree_store(config)
        try:
            yield AuditLog(recorder, ProofService(store, recorder))
        finally:
            store.close()
    finally:
        recorder.close()


def start_embedded_sealer(
    config: StorageConfig,
    policy: SealPolicy | None = None,
    *,
    signing_key: Path | None = None,
    origin: str | None = None,
    clock: Clock = system_clock,
    report: Report = quiet,
    poll_interval: float = 0.05,
    witnesses: Sequence[WitnessEndpoint] = (),
) -> SealerRunner:
    """The embedded default: open the tree store and key of ``config`` and seal in a thread. ``stop()`` it.

    ``poll_interval``: how often the idle runner asks whether a seal is due (and a follower whether it
    can lead), and how often its waiter reads the sealed size when another process seals.
    """
    signer = ensure_signing_key(config.data_dir, signing_key, origin)
    store = open_tree_store(config)
    sealer = Sealer(store, signer, clock, policy=policy, edge=RightEdge())  # proofs of new entries from memory
    observers = seal_observers(store, config, signing_key, witnesses, report)
    return SealerRunner(store, sealer, poll_interval=poll_interval, report=report, observers=observers).start()


def seal_observers(
    store: ManagedTreeStore,
    config: StorageConfig,
    signing_key: Path | None,
    witnesses: Sequence[WitnessEndpoint],
    report: Report,
) -> tuple[SealObserver, ...]:
    """What a sealer tells of each checkpoint: the published-checkpoint file beside the key, and (when
    witnesses are configured) the witness collector."""
    published = PublishedCheckpoint(published_path(config.data_dir, signing_key))
    if not witnesses:
        return (published,)
    return (published, WitnessCollector(store, witnesses, report=report))


def check_master_key_at_start(config: StorageConfig) -> None:
    """Refuse to start (:class:`~adapters.ports.MasterKeyMismatch`) with a master key other than the one
    this ledger's member keys are wrapped with: checked against the recorded fingerprint before any
    worker starts (one line and exit 2, not a failed application startup)."""
    wrapper = KeyWrapper(resolve_master_key(None, config.data_dir))
    open_key_store(config, wrapper).close()


def check_not_rolled_back_at_start(config: StorageConfig, signing_key: Path | None = None) -> None:
    """Refuse to start (:class:`~ledger_core.engine.merkle.RolledBack`) when the database's newest checkpoint
    is older than the one last published (``<signing key>.published``, outside the database)."""
    path = published_path(config.data_dir, signing_key)
    if not path.exists():
        return  # nothing published yet (or a ledger from before the file existed): written at the next seal
    store = open_tree_store(config)
    try:
        check_not_rolled_back(store, path)
    finally:
        store.close()
