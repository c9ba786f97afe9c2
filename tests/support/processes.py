"""Finding the processes a test started, by a mark in their environment (``LEDGER_TEST_MARK``)."""

from __future__ import annotations

from pathlib import Path


def marked_processes(mark: str) -> list[int]:
    """The processes alive whose environment holds ``LEDGER_TEST_MARK=mark`` (a run and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"LEDGER_TEST_MARK={mark}".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found
