"""``ledger writer``: stand by until elected, then own the ledger's writes and its sealing.

The elected writer (:mod:`adapters.writer.election`) opens the log recorder (its group committer does
the sequencing and the one transaction per batch), starts the sealer in a thread on the same host
(:func:`adapters.opening.start_embedded_sealer`) and serves API workers on the Unix socket
(:class:`~adapters.writer.server.WriterServer`). It checks its election every ``check_seconds``: a
writer that lost it (its database session died) stops serving at once, without removing the socket
file (the new writer's), and :meth:`WriterProcess.run` raises :class:`LeadershipLost`.

Stopping (SIGTERM): stop accepting and reading, commit and answer every save already received, stop
the sealer after its current seal, release the election. Nothing acknowledged is lost on a crash either:
a reply follows the commit, and the standby reads the log from the database, not from memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.opening import start_embedded_sealer
from adapters.storage import StorageConfig, open_recorder
from adapters.workers.sealer import Report, quiet
from adapters.workers.witnesses import WitnessEndpoint
from adapters.writer.election import Election, open_election
from adapters.writer.server import WriterServer
from ledger_core.engine.errors import LedgerError
from ledger_core.engine.sealing import SealPolicy


class LeadershipLost(LedgerError):
    """The writer's election ended under it (its database session died): it stopped serving."""

    code = "WRITER_LEADERSHIP_LOST"


class WriterProcess:
    """The writer's life: wait for the election, then serve until stopped or no longer elected."""

    def __init__(
        self,
        config: StorageConfig,
        socket_path: str,
        policy: SealPolicy | None = None,
        *,
        signing_key: Path | None = None,
        report: Report = quiet,
        poll_seconds: float = 0.2,
        check_seconds: float = 1.0,
        seal_poll_seconds: float = 0.01,
        witnesses: Sequence[WitnessEndpoint] = (),
        max_batch_events: int = 4096,
    ) -> None:
        self.config = replace(config, writer_socket=None)  # the writer commits itself
        self.socket_path = socket_path
        self.policy = policy
        self.signing_key = signing_key
        self.report = report
        self.poll_seconds = poll_seconds
        self.check_seconds = check_seconds
        self.seal_poll_seconds = seal_poll_seconds
        self.witnesses = witnesses
        self.max_batch_events = max_batch_events
        self.stop_event = threading.Event()

    def run(self) -> None:
        """Stand by, lead, return when stopped; raise :class:`LeadershipLost` if the election ended."""
        election = open_election(self.config, self.socket_path)
        try:
            if self._wait_for_election(election):
                self._lead(election)
        finally:
            election.release()

    def stop(self) -> None:
        self.stop_event.set()

    def _say(self, event: str, **details: Any) -> None:
        """Report one of the writer's own events (``role`` tells them from its sealer's)."""
        self.report({"event": event, "role": "writer", "socket": self.socket_path, **details})

    def _sealer_report(self, event: dict[str, Any]) -> None:
        self.report({**event, "role": "sealer"})

    def _wait_for_election(self, election: Election) -> bool:
        self._say("waiting")
        while not self.stop_event.is_set():
            if election.try_acquire():
                return True
            self.stop_event.wait(self.poll_seconds)
        return False

    def _lead(self, election: Election) -> None:
        recorder = open_recorder(self.config, max_batch_events=self.max_batch_events)
        try:
            sealer = start_embedded_sealer(
                self.config,
                self.policy,
                signing_key=self.signing_key,
                report=self._sealer_report,
                poll_interval=self.seal_poll_seconds,
                witnesses=self.witnesses,
            )
        except BaseException:
            recorder.close()
            raise
        server = WriterServer(self.socket_path, recorder.committer)
        recorder.on_commit = server.broadcast
        lost = False
        try:
            server.bind()
            self._say("leader", size=recorder.log_size())
            checked = time.monotonic()

            def running() -> bool:
                nonlocal checked, lost
                if self.stop_event.is_set():
                    return False
                if time.monotonic() - checked >= self.check_seconds:
                    checked = time.monotonic()
                    lost = not election.held()
                return not lost

            server.serve(running)
        finally:
            server.stop_accepting(unlink=not lost)
            recorder.close()  # commits and answers what was received
            server.close()
            sealer.stop()
        if lost:
            self._say("leadership-lost")
            raise LeadershipLost("the writer election ended under this process", socket=self.socket_path)
        self._say("stopped")
