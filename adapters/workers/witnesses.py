"""Collecting witness cosignatures (c2sp.org/tlog-witness) after each seal, without ever blocking it.

:class:`WitnessCollector` is a sealer observer: :meth:`~WitnessCollector.sealed` only wakes its thread.
The thread submits the newest checkpoint to each configured witness (``POST <url>/add-checkpoint``
with ``old <size>`` and the consistency proof from the size the witness last cosigned, read from the
tree), checks each returned line against the witness's verifier key, and appends the valid lines to
the stored checkpoint note (compare-and-set: the log's signed text never changes). A 409 teaches it
the witness's size and it retries at once; any other failure is reported (``witness-error``) and
retried after ``retry_after`` seconds, with the newest checkpoint then.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from adapters.ports import ManagedTreeStore
from adapters.workers.sealer import Report, quiet
from ledger_core.engine.merkle import CheckpointRecord
from proofs.cosignature import (
    CosignerVerifier,
    note_body,
    note_signature_lines,
    parse_cosigner_vkey,
    with_signature_lines,
)
from proofs.errors import ProofError
from proofs.prove import consistency_proof
from proofs.witness_protocol import SIZE_CONTENT_TYPE, format_add_checkpoint

__all__ = ["WitnessCollector", "WitnessEndpoint", "parse_witnesses"]

MAX_ATTEMPTS = 3
"""Requests per witness per round: a 409 names the witness's size, and the next request uses it."""


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks for cosignatures: its submission prefix and its verifier key."""

    url: str
    verifier: CosignerVerifier


def parse_witnesses(text: str) -> tuple[WitnessEndpoint, ...]:
    """``URL VKEY`` pairs separated by ``;`` or newlines (``LEDGER_WITNESSES``)."""
    endpoints = []
    for item in text.replace("\n", ";").split(";"):
        if not item.strip():
            continue
        url, _, vkey = item.strip().partition(" ")
        endpoints.append(WitnessEndpoint(url.rstrip("/"), parse_cosigner_vkey(vkey.strip())))
    return tuple(endpoints)


class WitnessFailed(Exception):
    """A witness did not cosign: ``status`` (HTTP, 0 when unreachable) and its reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status


class WitnessCollector:
    """A thread asking ``witnesses`` to cosign the newest checkpoint of ``store``."""

    def __init__(
        self,
        store: ManagedTreeStore,
        witnesses: Sequence[WitnessEndpoint],
        *,
        retry_after: float = 1.0,
        timeout: float = 5.0,
        report: Report = quiet,
    ) -> None:
        self.store = store
        self.witnesses = tuple(witnesses)
        self.retry_after = retry_after
        self.report = report
        self.client = httpx.Client(timeout=timeout)
        self.known: dict[str, int] = {}  # witness url -> the size it last cosigned (as it told us)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-witnesses", daemon=True)
        self._thread.start()

    def sealed(self, record: CheckpointRecord) -> None:
        """A checkpoint was committed: collect its cosignatures (in the collector's thread)."""
        self._wake.set()

    def close(self) -> None:
        """Stop the thread (after its current request) and close the HTTP client."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.client.close()

    def _run(self) -> None:
        pending = True  # collect for the newest checkpoint at start as well
        while not self._stop.is_set():
            if not pending:
                self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            pending = not self.collect_once()
            if pending:
                self._stop.wait(self.retry_after)

    def collect_once(self) -> bool:
        """One round over every witness for the newest checkpoint; True when none failed."""
        try:
            latest = self.store.latest_checkpoint()
        except Exception as error:  # noqa: BLE001 - database unreachable: report, retry
            self.report({"event": "witness-error", "error": str(error)})
            return False
        if latest is None:
            return True
        ok = True
        for witness in self.witnesses:
            if self._cosigned(witness, latest):
                continue
            try:
                lines = self._submit(witness, latest)
                self._store(latest.size, lines)
            except (WitnessFailed, httpx.HTTPError, ProofError) as error:
                ok = False
                self.report(
                    {"event": "witness-error", "witness": witness.url, "size": latest.size, "error": str(error)}
                )
                continue
            self.report({"event": "cosigned", "witness": witness.verifier.name, "size": latest.size})
        return ok

    def _cosigned(self, witness: WitnessEndpoint, record: CheckpointRecord) -> bool:
        body = note_body(record.note)
        for line in note_signature_lines(record.note):
            try:
                if witness.verifier.verify_line(body, line) is not None:
                    return True
            except ProofError:
                continue
        return False

    def _submit(self, witness: WitnessEndpoint, record: CheckpointRecord) -> list[str]:
        body = note_body(record.note)
        for _ in range(MAX_ATTEMPTS):
            old = self.known.get(witness.url, 0)
            if old > record.size:
                raise WitnessFailed(409, f"the witness cosigned size {old}, above this log's newest {record.size}")
            proof = consistency_proof(old, record.size, self.store.fetch_nodes) if 0 < old < record.size else []
            response = self.client.post(
                f"{witness.url}/add-checkpoint", content=format_add_checkpoint(old, proof, record.note)
            )
            if response.status_code == 409 and response.headers.get("content-type", "").startswith(SIZE_CONTENT_TYPE):
                size = int(response.text.strip())
                if size == old:
                    raise WitnessFailed(409, f"the witness cosigned another checkpoint of size {size} (a split view)")
                self.known[witness.url] = size
                continue
            if response.status_code != 200:
                raise WitnessFailed(response.status_code, response.text.strip()[:200])
            lines = [line for line in response.text.splitlines() if line]
            valid = [line for line in lines if witness.verifier.verify_line(body, line) is not None]
            if not valid:
                raise WitnessFailed(200, "the response carries no cosignature by the configured witness key")
            self.known[witness.url] = record.size
            return valid
        raise WitnessFailed(409, f"the witness's size kept changing ({self.known.get(witness.url)})")

    def _store(self, size: int, lines: list[str]) -> None:
        for _ in range(MAX_ATTEMPTS):
            record = self.store.checkpoint_at(size)
            if record is None:
                raise WitnessFailed(0, f"checkpoint {size} is gone from the database")
            note = with_signature_lines(record.note, lines)
            if note == record.note or self.store.update_checkpoint_note(size, record.note, note):
                return
        raise WitnessFailed(0, f"checkpoint {size}'s note kept changing under the collector")
