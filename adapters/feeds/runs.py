"""The feeds worker's journal: per partner, what ran last and what it gave (``<feeds root>/state/<partner>.json``).

One small JSON document per partner, replaced atomically (:func:`replace_private_file`) after each step,
so a worker killed at any point restarts from the last recorded step: a slot is recorded as completed
only after its files were published, and a published file is not published twice (the journal names it).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from adapters.feed_exchange import FeedRun, PartnerRuns
from adapters.files.private_files import replace_private_file
from ledger_core.shared.validation import check_partner_slug

__all__ = ["FeedRunJournal"]


class FeedRunJournal:
    """Reads and writes the journal under ``<root>/state/``."""

    def __init__(self, root: Path) -> None:
        self.base = root / "state"

    def _path(self, partner_id: str) -> Path:
        return self.base / f"{check_partner_slug(partner_id)}.json"

    def load(self, partner_id: str) -> PartnerRuns:
        path = self._path(partner_id)
        if not path.exists():
            return PartnerRuns(partner_id)
        doc: dict[str, Any] = json.loads(path.read_bytes())
        return PartnerRuns(
            partner_id=partner_id,
            feeds={kind: FeedRun(**run) for kind, run in doc.get("feeds", {}).items()},
            received=doc.get("received"),
            late_alerted=doc.get("late_alerted"),
            unpushed=tuple(doc.get("unpushed", ())),
            claims_arrived={str(k): str(v) for k, v in doc.get("claims_arrived", {}).items()},
            claims_overdue=tuple(doc.get("claims_overdue", ())),
            claims_pulled_at=doc.get("claims_pulled_at"),
        )

    def save(self, runs: PartnerRuns) -> None:
        replace_private_file(self._path(runs.partner_id), json.dumps(asdict(runs), indent=2, sort_keys=True).encode())
