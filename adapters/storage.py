"""Choosing and opening storage from a URL or a data directory (the adapters' entry point).

* ``sqlite:///absolute/path/ledger.db`` or ``sqlite:relative/path.db``: SQLite file.
* ``postgresql://...`` / ``postgres://...``: PostgreSQL (libpq URL).
* No URL: SQLite at ``<data_dir>/ledger.db`` (the embedded default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.log_recorder import SequencedRecorder, system_clock
from ledger_core.engine.errors import InvalidCommand
from ledger_core.engine.ports import Clock

DEFAULT_DATA_DIR = Path(".ledger-data")


@dataclass(frozen=True)
class StorageConfig:
    """Where the ledger lives: a data directory (keys, local files) and a database URL."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None

    @property
    def backend(self) -> str:
        return (
            "postgresql"
            if self.database_url and self.database_url.startswith(("postgres://", "postgresql://"))
            else "sqlite"
        )

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


def open_recorder(
    config: StorageConfig, *, clock: Clock = system_clock, max_batch_events: int = 4096
) -> SequencedRecorder:
    """Open (and create if needed) the log recorder the config names."""
    if config.backend == "postgresql":
        from adapters.postgres.recorder import PostgresLogRecorder  # psycopg only when asked for

        assert config.database_url is not None  # narrowed by backend; not a business rule
        return PostgresLogRecorder(config.database_url, clock=clock, max_batch_events=max_batch_events)
    from adapters.sqlite.recorder import SQLiteLogRecorder

    return SQLiteLogRecorder(config.sqlite_path(), clock=clock, max_batch_events=max_batch_events)
