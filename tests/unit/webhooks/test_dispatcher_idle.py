"""The dispatcher's idle poll backs off while polls find nothing and snaps back when woken."""

from __future__ import annotations

import asyncio
from typing import cast

from adapters.outbox import OutboxStore
from adapters.workers.dispatcher import Dispatcher


def test_idle_polls_back_off_up_to_the_cap_and_a_nudge_resets_them() -> None:
    dispatcher = Dispatcher(
        cast(OutboxStore, object()), lambda _: "whsec_unused", poll_interval=0.01, max_poll_interval=0.04
    )

    async def scenario() -> list[float]:
        dispatcher._loop, dispatcher._nudge = asyncio.get_running_loop(), asyncio.Event()
        stop = asyncio.Event()
        timeouts = []
        for _ in range(4):  # nothing claimed, nobody wakes it: each wait times out
            timeouts.append(dispatcher.idle_timeout())
            await dispatcher._wait(stop)
        timeouts.append(dispatcher.idle_timeout())
        dispatcher.wake()  # the projector enqueued something
        await dispatcher._wait(stop)  # returns as soon as the nudge lands
        timeouts.append(dispatcher.idle_timeout())
        return timeouts

    assert asyncio.run(scenario()) == [0.01, 0.02, 0.04, 0.04, 0.04, 0.01]
