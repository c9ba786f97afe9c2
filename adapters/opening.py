"""Opening a :class:`~ledger_core.ledger.Ledger` on real storage (the embedded default or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from adapters.log_recorder import system_clock
from adapters.storage import DEFAULT_DATA_DIR, StorageConfig, open_recorder
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.ledger import Ledger
from ledger_core.ports import Clock


def open_ledger(
    location: str | Path | StorageConfig | None = None,
    *,
    clock: Clock = system_clock,
    max_batch_events: int = 4096,
) -> Ledger:
    """Open (creating if needed) the ledger at ``location``.

    ``location`` is a data directory (SQLite file ``ledger.db`` inside it), a ``sqlite:`` or
    ``postgresql://`` URL, or a :class:`StorageConfig`. None means ``./.ledger-data``.
    """
    if isinstance(location, StorageConfig):
        config = location
    elif location is None:
        config = StorageConfig(DEFAULT_DATA_DIR)
    elif isinstance(location, str) and (":" in location and not Path(location).exists()):
        config = StorageConfig(DEFAULT_DATA_DIR, database_url=location)
    else:
        config = StorageConfig(Path(location))
    recorder = open_recorder(config, clock=clock, max_batch_events=max_batch_events)
    return Ledger(recorder, recorder, ALL_AGGREGATES, on_close=recorder.close)
