"""The writer's side: serve saves from API workers on a Unix socket, committed by the local group committer.

One thread per connected worker reads its frames and submits each save to the
:class:`~adapters.group_commit.GroupCommitter` of the writer's recorder; the committer's thread sends each
reply (:mod:`adapters.writer.wire`) as soon as the batch holding the save committed, so a reply with
positions always follows the commit. Stopping stops accepting and reading, lets the committer finish what
it holds (those replies are still sent), then closes the connections.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

import msgspec

from adapters.writer.wire import Committed, Conflict, SaveReply, frame, request_decoder, split_frames
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.errors import ConcurrencyConflict
from ledger_core.engine.sequencer import SequencedEntry

logger = logging.getLogger(__name__)
SEND_TIMEOUT_S = 5
"""A worker whose socket accepts nothing for this long (it stopped reading) is disconnected."""


class Committer(Protocol):
    """What the server commits through (a :class:`~adapters.group_commit.GroupCommitter`)."""

    def submit(self, drafts: Sequence[EventDraft]) -> Future[list[int]]: ...


class _Worker:
    """One API worker's connection: a reader thread and the lock its replies are written under."""

    def __init__(self, sock: socket.socket, committer: Committer, on_end: Callable[[_Worker], None]) -> None:
        self.sock = sock
        self._committer = committer
        self._on_end = on_end
        self._send_lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._read, name="ledger-writer-conn", daemon=True)

    def _read(self) -> None:
        buffer = bytearray()
        try:
            while chunk := self.sock.recv(262_144):
                buffer += chunk
                for body in split_frames(buffer):
                    request = request_decoder.decode(body)
                    future = self._committer.submit(request.event_drafts())
                    future.add_done_callback(functools.partial(self._reply, request.id))
        except (OSError, ValueError, msgspec.DecodeError) as error:  # its saves in flight still commit, unanswered
            logger.warning("writer: dropped a worker connection: %s", error)
        finally:
            if not self.stopping:  # the worker hung up: nobody reads replies any more
                self._on_end(self)
                self.close()

    def _reply(self, request_id: int, done: Future[list[int]]) -> None:
        """Runs in the committer's thread once the save's batch is settled."""
        error = done.exception()
        if error is None:
            reply = SaveReply(request_id, positions=done.result())
        elif isinstance(error, ConcurrencyConflict):
            conflict = Conflict(error.aggregate_id, error.expected_version, error.found_version)
            reply = SaveReply(request_id, conflict=conflict)
        else:
            reply = SaveReply(request_id, error=f"{type(error).__name__}: {error}")
        self.send(frame(reply))

    def send(self, data: bytes) -> None:
        """Send one frame; a worker gone, or not reading for ``SEND_TIMEOUT_S``, is disconnected (its
        saves in flight then fail on its side, unacknowledged) rather than stalling every commit."""
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError as error:
                logger.warning("writer: disconnecting a worker that does not read: %s", error)
                self.close()

    def stop_reading(self) -> None:
        self.stopping = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class WriterServer:
    """Listens on ``path`` (replacing a stale socket file: call only while holding the writer election)."""

    def __init__(self, path: str, committer: Committer, *, mode: int = 0o660) -> None:
        self.path = path
        self._committer = committer
        self._mode = mode
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.connections = 0

    def bind(self) -> None:
        """Take the socket path (a dead writer's socket file is removed first) and listen."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        os.chmod(self.path, self._mode)
        listener.listen(128)
        listener.settimeout(0.2)
        self._listener = listener

    def serve(self, running: Callable[[], bool]) -> None:
        """Accept workers while ``running()`` (asked at least every 0.2 s)."""
        listener = self._listener
        if listener is None:
            raise RuntimeError("bind() first")
        while running():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", SEND_TIMEOUT_S, 0))
            worker = _Worker(sock, self._committer, self._ended)
            with self._lock:
                self._workers.add(worker)
                self.connections += 1
            worker.thread.start()

    def stop_accepting(self, *, unlink: bool = True) -> None:
        """Close the listener and stop reading requests (saves already submitted still get replies).
        ``unlink=False`` when leadership was lost: the socket path may already be the new writer's."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            if unlink:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.stop_reading()

    def broadcast(self, entries: Sequence[SequencedEntry]) -> None:
        """Push a committed batch's rows to every worker (the recorder's ``on_commit``, in the committer's
        thread: before the batch's replies, so a worker has the rows when it learns of the commit)."""
        data = frame(Committed(list(entries)))
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.send(data)

    def close(self) -> None:
        """Close every worker connection (after the committer drained)."""
        with self._lock:
            workers, self._workers = list(self._workers), set()
        for worker in workers:
            worker.close()
            if worker.thread is not threading.current_thread():
                worker.thread.join(5)

    def _ended(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
