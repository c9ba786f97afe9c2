"""Choosing and opening storage from a URL or a data directory (the adapters' entry point).

* ``sqlite:///absolute/path/ledger.db`` or ``sqlite:relative/path.db``: SQLite file.
* ``postgresql://...`` / ``postgres://...``: PostgreSQL (libpq URL).
* No URL: SQLite at ``<data_dir>/ledger.db`` (the embedded default).

This module and :mod:`adapters.opening` are where a backend is chosen: the ``open_*`` functions import
the chosen backend's module when called (psycopg only when PostgreSQL is asked for), and everything
else receives the opened stores.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from adapters.log_recorder import SequencedRecorder, system_clock
from adapters.outbox import OutboxStore
from adapters.ports import (
    KeyWrapping,
    ManagedKeyStore,
    ManagedOutcomeStore,
    ManagedSsoStore,
    ManagedThemeAssets,
    ManagedTreeStore,
    OidcTokenStore,
    SsoHealthStore,
)
from adapters.table_claim_facts import FactTables
from ledger_core.engine.errors import InvalidCommand, LedgerError
from ledger_core.engine.ports import Clock

DEFAULT_DATA_DIR = Path(".ledger-data")
BULK_KEY_CACHE_MIB = 16
"""The page cache of a bulk key-store connection on SQLite (:func:`open_key_store` with ``bulk``)."""
KEPT_COMMITTED_ROWS = 4096
"""The newest rows a process that commits its own saves keeps in memory for its followers
(:meth:`~adapters.log_recorder.SequencedRecorder.keep_committed`; a few MB): a claims import's facts read each
chunk it just saved from there instead of from the database."""
BULK_KEY_WAL_PAGES = 16384
"""The WAL size (pages of 4 KiB: 64 MiB) at which a bulk key-store connection on SQLite checkpoints, instead of
SQLite's 1,000: a checkpoint copies each page once however often it changed since the last one, and a bulk load
changes the same pages of the random subject index again and again (1,000,000 keys: 23.3 -> 19.9 us of CPU per
key at the end; docs/performance.md)."""


CLAIM_FACTS_VARIABLE = "LEDGER_CLAIM_FACTS"


class ClaimFactsMode(StrEnum):
    """Where a process keeps the cross-claim facts of the risk rules (``LEDGER_CLAIM_FACTS``)."""

    TABLE = "table"
    """``claim_facts_*`` tables in the ledger's database, shared by every process
    (:mod:`adapters.table_claim_facts`)."""
    MEMORY = "memory"
    """An index in this process, read from the whole log (:mod:`adapters.memory.claim_facts`)."""


class Backend(StrEnum):
    """The database a :class:`StorageConfig` names (shown as this text by ``ledger`` commands)."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class StorageConfig:
    """Where the ledger lives: a data directory (keys, local files) and a database URL."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    writer_socket: str | None = None
    """The Unix socket of the ``ledger writer`` process: saves go there instead of being committed by
    this process (docs/deployment.md "One writer per ledger"); None = commit here (the default)."""
    claim_facts: ClaimFactsMode | None = None
    """Where the claim facts are kept; None = the backend's default (:attr:`facts_mode`)."""

    @property
    def facts_mode(self) -> ClaimFactsMode:
        """The claim facts as configured, else ``LEDGER_CLAIM_FACTS`` (a CLI command builds its config
        from flags), else the tables: no process then holds the facts of the whole log (docs/performance.md,
        "Claim facts in tables vs in each process")."""
        if self.claim_facts is not None:
            return self.claim_facts
        raw = os.environ.get(CLAIM_FACTS_VARIABLE, "").strip().lower()
        if raw:
            return ClaimFactsMode(raw)
        return ClaimFactsMode.TABLE

    @property
    def backend(self) -> Backend:
        if self.database_url and self.database_url.startswith(("postgres://", "postgresql://")):
            return Backend.POSTGRESQL
        return Backend.SQLITE

    def sqlite_path(self) -> Path:
        """The SQLite file this config names (the default is ``<data_dir>/ledger.db``)."""
        url = self.database_url
        if url is None:
            return self.data_dir / "ledger.db"
        if url.startswith("sqlite:///"):
            return Path("/" + url.removeprefix("sqlite:///"))
        if url.startswith("sqlite:"):
            return Path(url.removeprefix("sqlite:").removeprefix("//"))
        raise InvalidCommand("unsupported database URL (use sqlite:... or postgresql://...)", field="database_url")

    def sqlite_keys_path(self) -> Path:
        """The SQLite file of the subject keys, beside :meth:`sqlite_path` (``ledger.db`` -> ``ledger.keys.db``)."""
        from adapters.sqlite.keys import keys_file_of

        return keys_file_of(self.sqlite_path())

    def postgres_url(self) -> str | None:
        """The libpq URL when this config names PostgreSQL, else None."""
        return self.database_url if self.backend is Backend.POSTGRESQL else None


class LedgerMissing(LedgerError):
    """No ledger where the configuration points (a mistyped path, a database never initialised)."""

    code = "LEDGER_NOT_FOUND"

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"no ledger at {where}: {reason}", where=where)
        self.where = where


def redacted(url: str) -> str:
    """A database URL fit to print: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def check_reachable(config: StorageConfig) -> None:
    """Raise the backend's ``OperationalError`` now if the database ``config`` names cannot be reached
    (a server checks before it starts, to fail in one line rather than in its startup hooks)."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.log import log_table_exists

        log_table_exists(url)


def require_ledger(config: StorageConfig) -> StorageConfig:
    """``config`` if a ledger exists there, else :class:`LedgerMissing` (nothing is created).

    Every ``open_*`` function creates what is missing; callers that must not create a ledger (every
    command but ``ledger init``) check first. A data directory that is a file is refused too.
    """
    if config.data_dir.exists() and not config.data_dir.is_dir():
        raise LedgerMissing(str(config.data_dir), "the data directory is not a directory")
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.log import log_table_exists

        if not log_table_exists(url):
            raise LedgerMissing(redacted(url), "the database holds no ledger_log table")
        return config
    path = config.sqlite_path()
    if not path.is_file():
        reason = "the file does not exist" if not path.exists() else "not a file"
        raise LedgerMissing(str(path), reason)
    return config


def open_recorder(
    config: StorageConfig, *, clock: Clock = system_clock, max_batch_events: int = 4096
) -> SequencedRecorder:
    """Open (and create if needed) the log recorder the config names; with ``config.writer_socket`` its
    saves go to the writer process (:class:`~adapters.writer.client.WriterClient`)."""
    recorder: SequencedRecorder
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.log import PostgresLogRecorder  # psycopg only when asked for

        recorder = PostgresLogRecorder(url, clock=clock, max_batch_events=max_batch_events)
    else:
        from adapters.sqlite.log import SQLiteLogRecorder

        recorder = SQLiteLogRecorder(config.sqlite_path(), clock=clock, max_batch_events=max_batch_events)
    if config.writer_socket is not None:
        from adapters.writer.client import WriterClient

        client = WriterClient(config.writer_socket)
        recorder.hand_writes_to(client, client.recent)
    else:
        recorder.keep_committed(KEPT_COMMITTED_ROWS)
    return recorder


def open_fact_tables(config: StorageConfig) -> FactTables:
    """The claim facts tables (``claim_facts_*``) in the database ``config`` names (created if missing)."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.claim_facts import PostgresFactTables

        return PostgresFactTables(url)
    from adapters.sqlite.claim_facts import SQLiteFactTables

    return SQLiteFactTables(config.sqlite_path())


def open_tree_store(config: StorageConfig) -> ManagedTreeStore:
    """Open (creating tables if missing) the tree store of the database ``config`` names."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.tree import PostgresTreeStore

        return PostgresTreeStore(url)
    from adapters.sqlite.tree import SQLiteTreeStore

    return SQLiteTreeStore(config.sqlite_path())


def open_outbox(config: StorageConfig) -> OutboxStore:
    """The webhook outbox in the database ``config`` names (tables created if missing)."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.outbox import PostgresOutboxStore

        return PostgresOutboxStore(url)
    from adapters.sqlite.outbox import SQLiteOutboxStore

    return SQLiteOutboxStore(config.sqlite_path())


def open_key_store(
    config: StorageConfig, wrapper: KeyWrapping, *, bulk: bool = False, commit_behind: bool = False
) -> ManagedKeyStore:
    """Subject data keys in the database ``config`` names, wrapped by ``wrapper``; ``bulk`` for a connection
    that creates keys by the thousand (the eligibility feed's preparation workers): on SQLite it gets a
    larger page cache (:data:`BULK_KEY_CACHE_MIB`) and checkpoints less often (:data:`BULK_KEY_WAL_PAGES`).
    ``commit_behind`` (SQLite): batch calls return before their commit, which
    :meth:`~adapters.ports.ManagedKeyStore.committed` waits for (:class:`~adapters.sqlite.keys.SQLiteKeyStore`)."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.keys import PostgresKeyStore

        return PostgresKeyStore(url, wrapper)
    from adapters.sqlite.keys import SQLiteKeyStore

    return SQLiteKeyStore(
        config.sqlite_keys_path(),
        wrapper,
        cache_mib=BULK_KEY_CACHE_MIB if bulk else None,
        checkpoint_pages=BULK_KEY_WAL_PAGES if bulk else None,
        legacy=config.sqlite_path(),
        commit_behind=commit_behind,
    )


def open_outcome_store(config: StorageConfig) -> ManagedOutcomeStore:
    """The outcome counters in the database ``config`` names (tables created if missing)."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.outcomes import PostgresOutcomeStore

        return PostgresOutcomeStore(url)
    from adapters.sqlite.outcomes import SQLiteOutcomeStore

    return SQLiteOutcomeStore(config.sqlite_path())


def open_sso_health(config: StorageConfig) -> SsoHealthStore:
    """Sign-in outcome counters (``sso_login_stats``) in the database ``config`` names."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.sso_health import PostgresSsoHealthStore

        return PostgresSsoHealthStore(url)
    from adapters.sqlite.sso_health import SQLiteSsoHealthStore

    return SQLiteSsoHealthStore(config.sqlite_path())


def open_oidc_tokens(config: StorageConfig) -> OidcTokenStore:
    """Sealed OIDC refresh tokens (``sso_oidc_tokens``) in the database ``config`` names."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.oidc_tokens import PostgresOidcTokenStore

        return PostgresOidcTokenStore(url)
    from adapters.sqlite.oidc_tokens import SQLiteOidcTokenStore

    return SQLiteOidcTokenStore(config.sqlite_path())


def open_sso_store(config: StorageConfig) -> ManagedSsoStore:
    """Sessions and one-time values of sign-in (``sso_*`` tables) in the database ``config`` names."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.sessions import PostgresSsoStore

        return PostgresSsoStore(url)
    from adapters.sqlite.sessions import SQLiteSsoStore

    return SQLiteSsoStore(config.sqlite_path())


def open_theme_assets(config: StorageConfig) -> ManagedThemeAssets:
    """Partner theme files (``theme_assets``, content-addressed) in the database ``config`` names."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.theme_assets import PostgresThemeAssets

        return PostgresThemeAssets(url)
    from adapters.sqlite.theme_assets import SQLiteThemeAssets

    return SQLiteThemeAssets(config.sqlite_path())
