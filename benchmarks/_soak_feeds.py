"""The soak's feed files (benchmarks/soak.py): eligibility files dropped into the partner's inbound folder at
set shares of the soak, as our SFTP server leaves them after an upload, and the feeds worker's receipts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import log


class FeedDrops:
    """Eligibility files put in the partner's inbound folder with their ready marker (what our SFTP server
    does after an upload) at set shares of the soak, and the feeds worker's receipts for them.

    The first file is small, the others ``rows`` long each; the first two fall in the warm-up (the worker's
    first file of each size loads code and grows its heap once). Every file names its own members (ids
    prefixed with the file's number), so each one registers new members."""

    def __init__(self, data_dir: Path, partner: str, rows: int, shares: tuple[float, ...]) -> None:
        from adapters.feeds.folders import FeedFolders
        from api.settings import FeedsSection

        self.folders = FeedFolders(FeedsSection().root_dir(data_dir))
        self.partner = partner
        self.staging = data_dir
        today = datetime.now(UTC).date()
        self.plan = [
            (share, max(10, rows // 10) if number == 0 else rows, number, today - timedelta(days=len(shares) - number))
            for number, share in enumerate(shares)
        ]
        self.files: list[dict[str, Any]] = []
        self._pending: list[tuple[Path, float, dict[str, Any]]] = []

    def tick(self, elapsed_share: float, now: float) -> None:
        """Drop the files that are due; collect the receipts that appeared."""
        from feeds import write_file

        while self.plan and elapsed_share >= self.plan[0][0]:
            share, rows, number, day = self.plan.pop(0)
            name = f"eligibility_{self.partner}_{day:%Y%m%d}.csv"
            staging = self.staging / f".{name}"
            figures: dict[str, Any] = {"file": number, "at_share": share, "rows": rows}
            figures["valid_rows"] = write_file(staging, rows)
            header, *records = staging.read_text(encoding="utf-8").split("\r\n")
            staging.write_text("\r\n".join([header, *(f"f{number}{r}" if r else r for r in records)]), "utf-8")
            self.folders.ensure(self.partner)
            staging.replace(self.folders.inbound(self.partner) / name)
            self.folders.mark_ready(self.partner, name)
            self.files.append(figures)
            self._pending.append((self.folders.processed(self.partner) / f"{name}.json", now, figures))
            log(f"  feed file of {rows} rows dropped at {share:.0%} of the soak")
        for item in list(self._pending):
            receipt, dropped_at, figures = item
            if receipt.exists():
                figures["seconds"] = round(now - dropped_at, 1)
                figures["processed_at_share"] = round(elapsed_share, 3)  # 1.0: after the soak's end
                figures["receipt"] = _receipt(receipt)
                self._pending.remove(item)
                log(f"  feed file processed in {figures['seconds']} s: {figures['receipt']}")

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.2)
            self.tick(1.0, time.monotonic())

    def processed(self) -> bool:
        return bool(self.files) and not self.plan and not self._pending


def _receipt(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return {key: document[key] for key in ("result", "accepted", "rejected") if key in document} or document
