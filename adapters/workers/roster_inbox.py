"""The periodic deprovisioning job: roster files dropped in an inbox directory are applied, oldest day first.

The feeds' SFTP inbound (or an operator) delivers ``users_<partner>_<YYYYMMDD>.csv`` into ``inbox``; each pass
applies every roster found (:func:`adapters.roster.parse_roster`, then the ``apply`` callback, which runs the
accounts context's sync and revokes sessions) and moves the file to ``inbox/processed/`` or, when it is
refused, to ``inbox/rejected/`` beside a ``.reason`` text. Each worker of a deployment runs the job: a file
is claimed by renaming it into ``inbox/processing/`` first, which only one of them can do. A file is only
picked up once its size has not changed since the previous pass (a transfer still being written is left
alone). The worker imports no backend: what a sync touches arrives through ``apply``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.roster import Roster, parse_roster, roster_file_name
from ledger_core.engine.errors import LedgerError

logger = logging.getLogger("adapters.workers.roster_inbox")
Apply = Callable[[Roster, str], dict[str, Any]]
"""``apply(roster, file name)``: run the sync, return its report (JSON-ready)."""


@dataclass
class RosterInbox:
    """Scans ``inbox`` for roster files and applies them with ``apply``."""

    inbox: Path
    apply: Apply
    _sizes: dict[str, int] = field(default_factory=dict)

    def pending(self) -> list[tuple[str, Path]]:
        """``(partner, file)`` of roster files whose size is stable since the last call, oldest day first."""
        found: list[tuple[str, str, Path]] = []
        sizes: dict[str, int] = {}
        for path in self.inbox.glob("users_*.csv"):
            parsed = roster_file_name(path.name)
            if parsed is None or not path.is_file():
                continue
            size = path.stat().st_size
            sizes[path.name] = size
            if self._sizes.get(path.name) == size:
                found.append((parsed[1].isoformat(), parsed[0], path))
        self._sizes = sizes
        return [(partner, path) for _, partner, path in sorted(found)]

    def run_once(self) -> list[dict[str, Any]]:
        """Apply every stable roster file; one report per file (``rejected`` with the reason when refused)."""
        reports: list[dict[str, Any]] = []
        for partner, found in self.pending():
            try:
                path = self._move(found, "processing")  # an atomic rename: one worker claims the file
            except FileNotFoundError:
                continue  # another worker of this deployment took it
            try:
                roster = parse_roster(partner, path.read_bytes(), name=path.name)
                report = {"file": path.name, "status": "applied", **self.apply(roster, path.name)}
                self._move(path, "processed")
            except LedgerError as error:
                report = {"file": path.name, "status": "rejected", "reason": error.message}
                self._move(path, "rejected").with_suffix(".reason").write_text(error.message + "\n")
            logger.info("roster %s: %s", path.name, report["status"], extra={"report": report})
            reports.append(report)
        return reports

    def _move(self, path: Path, folder: str) -> Path:
        target = self.inbox / folder
        target.mkdir(exist_ok=True)
        destination = target / path.name
        path.rename(destination)
        self._sizes.pop(path.name, None)
        return destination
