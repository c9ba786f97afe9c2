"""The feed folders on disk (the owner of everything under the feeds root).

::

    <root>/sftp/<partner>/inbound/<partner>/    the partner uploads here (its SFTP jail is sftp/<partner>/)
    <root>/sftp/<partner>/outbound/<partner>/   reports, enrollment and outcome files for the partner
    <root>/ready/<partner>/<name>               marker: the upload of inbound/<name> completed
    <root>/processing/<partner>/<name>          a file taken for processing (resumed after a crash)
    <root>/processed/<partner>/<name>.json      the receipt of every file read (name, SHA-256, size, result)
    <root>/work/<partner>/                      decrypted plaintext while a file is processed, then removed
    <root>/state/<partner>.pulled               names already pulled from the partner's own server

A file moves by ``rename`` within one file system, so it is always whole in exactly one place until it
was read to the end; then its receipt replaces it (:meth:`FeedFolders.finish`). An
upload becomes visible to the worker only through its ready marker, written when the upload's write
handle is closed (:mod:`adapters.feeds.sftp_server`) or after a pulled file was renamed into place
(:mod:`adapters.feeds.sftp_client`). Half-written files have no marker and are never taken.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from adapters.feed_exchange import check_file_name
from adapters.files.private_files import replace_private_file

__all__ = ["FeedFolders"]
from ledger_core.shared.validation import check_partner_slug


class FeedFolders:
    """Paths and moves of the feed folders under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def jail(self, partner_id: str) -> Path:
        """The partner's SFTP root: it sees ``/inbound/<partner>/`` and ``/outbound/<partner>/`` only."""
        return self.root / "sftp" / check_partner_slug(partner_id)

    def inbound(self, partner_id: str) -> Path:
        return self.jail(partner_id) / "inbound" / partner_id

    def outbound(self, partner_id: str) -> Path:
        return self.jail(partner_id) / "outbound" / partner_id

    def _area(self, area: str, partner_id: str) -> Path:
        return self.root / area / check_partner_slug(partner_id)

    def processed(self, partner_id: str) -> Path:
        return self._area("processed", partner_id)

    def work(self, partner_id: str) -> Path:
        path = self._area("work", partner_id)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def ensure(self, partner_id: str) -> None:
        """Create the partner's folders (idempotent)."""
        for path in (self.inbound(partner_id), self.outbound(partner_id)):
            path.mkdir(parents=True, exist_ok=True, mode=0o750)
        for area in ("ready", "processing", "processed", "work"):
            self._area(area, partner_id).mkdir(parents=True, exist_ok=True, mode=0o700)

    def pulled_list(self, partner_id: str) -> Path:
        """Names of files already pulled from the partner's own server, one a line (outside its jail)."""
        path = self._area("state", partner_id).with_suffix(".pulled")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def partner_ids(self) -> list[str]:
        base = self.root / "sftp"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []

    # -- upload completion ---------------------------------------------------------------------------
    def mark_ready(self, partner_id: str, name: str) -> None:
        """Record that ``inbound/<name>`` is complete (its write handle was closed)."""
        marker = self._area("ready", partner_id) / check_file_name(name)
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        marker.touch()

    def unmark(self, partner_id: str, name: str) -> None:
        """Forget a completion (the file is being written again)."""
        (self._area("ready", partner_id) / check_file_name(name)).unlink(missing_ok=True)

    def ready(self, partner_id: str) -> list[str]:
        """Completed uploads waiting to be taken, oldest marker first."""
        base = self._area("ready", partner_id)
        if not base.exists():
            return []
        markers = [p for p in base.iterdir() if (self.inbound(partner_id) / p.name).is_file()]
        return [p.name for p in sorted(markers, key=lambda p: (p.stat().st_mtime_ns, p.name))]

    def ready_since(self, partner_id: str, name: str) -> datetime | None:
        """When the upload of ``inbound/<name>`` completed (its ready marker's time); None without a marker."""
        marker = self._area("ready", partner_id) / check_file_name(name)
        try:
            return datetime.fromtimestamp(marker.stat().st_mtime, UTC)
        except FileNotFoundError:
            return None

    def take(self, partner_id: str, name: str) -> Path:
        """Move a completed upload to ``processing/`` (atomic) and drop its marker; its new path."""
        target = self._area("processing", partner_id) / check_file_name(name)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.rename(self.inbound(partner_id) / name, target)
        self.unmark(partner_id, name)
        return target

    def in_processing(self, partner_id: str) -> list[Path]:
        """Files taken but not finished (a crash interrupted them): resumed before anything new."""
        base = self._area("processing", partner_id)
        return sorted(base.iterdir()) if base.exists() else []

    def finish(self, partner_id: str, taken: Path, receipt: Mapping[str, object]) -> Path:
        """Replace a file that was read to the end by its receipt in ``processed/`` (``<name>.json``, 0600;
        a later file of the same name gets ``<name>.N.json``); the receipt's path.

        The bytes are not kept: an eligibility file is personal data, and a copy outside the sealed store
        would outlive a member's erasure. The receipt (name, SHA-256, size, result) identifies the file.
        """
        base = self.processed(partner_id)
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = base / f"{taken.name}.json"
        counter = 1
        while target.exists():
            target = base / f"{taken.name}.{counter}.json"
            counter += 1
        document = {"file": taken.name, "sha256": _sha256(taken), "bytes": taken.stat().st_size, **receipt}
        replace_private_file(target, json.dumps(document, indent=2, sort_keys=True).encode())
        taken.unlink()
        return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
