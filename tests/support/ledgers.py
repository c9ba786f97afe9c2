"""Opening test ledgers with the toy aggregate on a given database URL."""

from __future__ import annotations

from pathlib import Path

from adapters.log_recorder import SequencedRecorder
from adapters.storage import StorageConfig, open_recorder
from ledger_core.ledger import Ledger
from ledger_core.ports import Clock
from support.clock import SteppingClock
from support.toy import Account


def open_toy_ledger(database_url: str, clock: Clock | None = None) -> tuple[Ledger, SequencedRecorder]:
    """A ledger that knows only the toy ``Account`` aggregate, plus its recorder (for tampering)."""
    recorder = open_recorder(StorageConfig(Path("unused"), database_url), clock=clock or SteppingClock())
    return Ledger(recorder, recorder, [Account], on_close=recorder.close), recorder
