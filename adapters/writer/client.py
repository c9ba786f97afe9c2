"""The API worker's side: :class:`WriterClient` hands saves to the writer process instead of committing here.

It has the interface of :class:`~adapters.group_commit.GroupCommitter` (``submit``, ``submit_async``,
``write``, ``close``) so a :class:`~adapters.log_recorder.SequencedRecorder` uses either unchanged. One
connection per process, multiplexed by request id; one reader thread settles the replies, grouped into
one ``call_soon_threadsafe`` per event loop per chunk read.

Failover: a save that cannot be sent (no writer listening: the standby is still taking over) is retried
on a new connection for up to ``connect_timeout`` seconds, which is safe since the writer never saw it.
A save that was sent and whose connection broke before its reply fails with :class:`WriterUnavailable`
(503): it was not acknowledged, and it may or may not have committed (like a lost commit reply in
any database; the client retries with its ``Idempotency-Key``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import msgspec

from adapters.group_commit import WriterClosed
from adapters.writer.recent import RecentRows
from adapters.writer.wire import Committed, SaveReply, SaveRequest, frame, reply_decoder, split_frames
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.errors import LedgerError

_Result = list[int] | BaseException


class WriterUnavailable(LedgerError):
    """The writer could not be reached, or went away before answering (the save is not acknowledged)."""

    code = "SERVICE_UNAVAILABLE"


class WriterFailed(LedgerError):
    """The writer's transaction failed: nothing of the save was stored (its message is the writer's)."""

    code = "SERVICE_UNAVAILABLE"


@dataclass(slots=True)
class _Pending:
    future: Future[list[int]] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    awaitable: asyncio.Future[list[int]] | None = None


class _Connection:
    """One connected socket, its requests in flight and the thread reading its replies."""

    def __init__(self, sock: socket.socket, client: WriterClient) -> None:
        self.sock = sock
        self.pending: dict[int, _Pending] = {}
        self.alive = True
        self._client = client
        self._thread = threading.Thread(target=self._read, name="ledger-writer-client", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = bytearray()
        failure: BaseException = WriterUnavailable("the writer closed the connection before answering")
        try:
            while chunk := self.sock.recv(262_144):
                buffer += chunk
                replies = []
                for body in split_frames(buffer):
                    message = reply_decoder.decode(body)
                    if isinstance(message, Committed):
                        self._client.recent.add(message.entries)
                    else:
                        replies.append(message)
                self._client.settle(self, replies)
        except (OSError, ValueError, msgspec.DecodeError) as error:
            failure = WriterUnavailable(f"the connection to the writer broke: {error}")
        self._client.lost(self, failure)

    def close(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):  # already disconnected: the reader thread ends on its own
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class WriterClient:
    """Sends saves to the writer listening on the Unix socket ``path``."""

    def __init__(self, path: str, *, connect_timeout: float = 15.0) -> None:
        self.path = path
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection: _Connection | None = None
        self._ids = itertools.count(1)
        self._closed = False
        self.recent = RecentRows()
        """The rows the writer pushed (its committed batches), for the recorder's followers."""
        self.batches = 0  # the GroupCommitter's counters: replies settled, events acknowledged
        self.events = 0

    # -- the GroupCommitter interface ------------------------------------------------------------------
    def submit(self, drafts: Sequence[EventDraft]) -> Future[list[int]]:
        future: Future[list[int]] = Future()
        future.set_running_or_notify_cancel()
        self._send(drafts, _Pending(future=future))
        return future

    def submit_async(self, drafts: Sequence[EventDraft]) -> asyncio.Future[list[int]]:
        loop = asyncio.get_running_loop()
        awaitable: asyncio.Future[list[int]] = loop.create_future()
        pending = _Pending(loop=loop, awaitable=awaitable)
        connection = self._connection
        if connection is not None and connection.alive:
            self._send(drafts, pending)  # connected: a write to a local socket, no wait
        else:  # (re)connecting may wait for the standby: not on the event loop
            sending = loop.run_in_executor(None, self._send, drafts, pending)
            sending.add_done_callback(lambda done: _fail_unsent(done, awaitable))
        return awaitable

    def write(self, drafts: Sequence[EventDraft]) -> list[int]:
        return self.submit(drafts).result()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    # -- sending ---------------------------------------------------------------------------------------
    def _send(self, drafts: Sequence[EventDraft], pending: _Pending) -> None:
        """Send one request, reconnecting (the standby taking over) until ``connect_timeout``."""
        deadline = time.monotonic() + self.connect_timeout
        with self._lock:
            request_id = next(self._ids)
            data = frame(SaveRequest.of(request_id, drafts))
            while True:
                if self._closed:
                    raise WriterClosed("the ledger is closed")
                connection = self._connect(deadline)
                connection.pending[request_id] = pending
                try:
                    connection.sock.sendall(data)
                    return
                except OSError:
                    del connection.pending[request_id]  # not sent whole: the writer discards a partial frame
                    self._drop(connection)

    def _connect(self, deadline: float) -> _Connection:
        """The live connection, or a new one (called with the lock held)."""
        if self._connection is not None and self._connection.alive:
            return self._connection
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
            except OSError as error:
                sock.close()
                if time.monotonic() >= deadline:
                    raise WriterUnavailable(f"no writer listens on {self.path}: {error}", socket=self.path) from None
                time.sleep(0.05)
                continue
            self._connection = _Connection(sock, self)
            return self._connection

    def _drop(self, connection: _Connection) -> None:
        if self._connection is connection:
            self._connection = None
        connection.close()

    # -- settling (reader thread) ----------------------------------------------------------------------
    def settle(self, connection: _Connection, replies: list[SaveReply]) -> None:
        with self._lock:
            settled = [
                (pending, _result(reply))
                for reply in replies
                if (pending := connection.pending.pop(reply.id, None)) is not None
            ]
        _settle_all(settled)
        for _, result in settled:
            if not isinstance(result, BaseException):
                self.batches += 1
                self.events += len(result)

    def lost(self, connection: _Connection, failure: BaseException) -> None:
        """The connection ended: every save still in flight on it fails (not acknowledged)."""
        with self._lock:
            if self._connection is connection:
                self._connection = None
            connection.alive = False
            orphans, connection.pending = list(connection.pending.values()), {}
        connection.close()
        _settle_all([(pending, failure) for pending in orphans])


def _fail_unsent(sending: asyncio.Future[None], awaitable: asyncio.Future[list[int]]) -> None:
    """Runs in the event loop: a save that could not be sent fails with the reason."""
    if sending.cancelled():
        return
    error = sending.exception()
    if error is not None and not awaitable.done():
        awaitable.set_exception(error)


def _result(reply: SaveReply) -> _Result:
    if reply.positions is not None:
        return reply.positions
    if reply.conflict is not None:
        return reply.conflict.error()
    return WriterFailed(f"the writer's transaction failed: {reply.error}")


def _settle_all(settled: list[tuple[_Pending, _Result]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[list[int]], _Result]]] = {}
    for pending, result in settled:
        if pending.future is not None:
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)
        elif pending.loop is not None and pending.awaitable is not None:
            by_loop.setdefault(pending.loop, []).append((pending.awaitable, result))
    for loop, completions in by_loop.items():
        if not loop.is_closed():
            loop.call_soon_threadsafe(_resolve_all, completions)


def _resolve_all(completions: list[tuple[asyncio.Future[list[int]], _Result]]) -> None:
    """Runs in the event loop: settle every awaiting save of one chunk of replies."""
    for awaitable, result in completions:
        if awaitable.done():  # the awaiting task was cancelled; the save itself may have committed
            continue
        if isinstance(result, BaseException):
            awaitable.set_exception(result)
        else:
            awaitable.set_result(result)
