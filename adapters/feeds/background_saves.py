"""A :class:`~ledger_core.members.feeds.ports.SaveQueue` on one thread: a file's batch saves run in order,
at most one behind the thread that plans them (issue 14 item 9, the bulk path).

While batch k waits for the group commit and its counters (both mostly waiting on the database), the
caller parses, checks and seals batch k+1. At most two batches are held: the one being saved and the one
just planned, because :meth:`BackgroundSaves.submit` first waits for the save before it. A failed save is
raised by the next :meth:`~BackgroundSaves.submit` or by :meth:`~BackgroundSaves.drain`, and nothing
submitted after it runs: a batch is in the log whole or not at all, and a file resumes after the last batch
the log holds, so a failure loses nothing that was acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager


class BackgroundSaves:
    """Runs saves on its own thread, one at a time, at most one behind the submitter."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor
        self._pending: Future[object] | None = None

    def submit(self, save: Callable[[], object]) -> None:
        self._wait()
        self._pending = self._executor.submit(save)

    def drain(self) -> None:
        self._wait()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


@contextmanager
def background_saves() -> Iterator[BackgroundSaves]:
    """A :class:`BackgroundSaves` whose thread ends with the block, after the save it runs (even on error)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-feed-saves") as executor:
        yield BackgroundSaves(executor)
