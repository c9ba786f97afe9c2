"""BackgroundSaves: saves run in order on one thread, at most one behind; a failure stops the queue."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from adapters.feeds.background_saves import background_saves


class SaveFailed(Exception):
    pass


def test_saves_run_in_order_on_one_thread_at_most_one_behind() -> None:
    ran: list[tuple[int, str]] = []
    submitted: list[int] = []

    def save(index: int) -> None:
        # the save of batch k runs while at most batch k+1 has been planned (submitted counts plans)
        assert len(submitted) <= index + 2
        ran.append((index, threading.current_thread().name))

    with background_saves() as saves:
        for index in range(20):
            submitted.append(index)
            saves.submit(partial(save, index))
        saves.drain()
    assert [index for index, _ in ran] == list(range(20))
    assert {name for _, name in ran} != {threading.current_thread().name}
    assert len({name for _, name in ran}) == 1


def test_a_failed_save_is_raised_and_nothing_after_it_runs() -> None:
    ran: list[int] = []

    def save(index: int) -> None:
        if index == 2:
            raise SaveFailed(index)
        ran.append(index)

    with background_saves() as saves:
        saves.submit(lambda: save(0))
        saves.submit(lambda: save(1))
        saves.submit(lambda: save(2))
        with pytest.raises(SaveFailed):
            saves.submit(lambda: save(3))
        saves.drain()
    assert ran == [0, 1]


def test_drain_raises_the_last_failure() -> None:
    with background_saves() as saves:
        saves.submit(lambda: (_ for _ in ()).throw(SaveFailed("last")))
        with pytest.raises(SaveFailed):
            saves.drain()
