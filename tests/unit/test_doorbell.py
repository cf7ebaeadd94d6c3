"""Idle mail senders are woken one at a time (`services.mail_relay.Doorbell`): a message found wakes one more
sender, not all of them, and one waiting sender at most looks for mail on its own every idle period."""

from __future__ import annotations

import asyncio

from services.mail_relay import Doorbell


async def waiting(bell: Doorbell, count: int, idle_seconds: float) -> tuple[list[asyncio.Task[None]], list[int]]:
    woken: list[int] = []

    async def sender(i: int) -> None:
        await bell.wait(idle_seconds)
        woken.append(i)

    tasks = [asyncio.create_task(sender(i)) for i in range(count)]
    await asyncio.sleep(0.01)  # every sender waits in line
    return tasks, woken


async def test_a_ring_wakes_the_sender_that_waited_longest_and_no_other() -> None:
    bell = Doorbell()
    tasks, woken = await waiting(bell, 4, idle_seconds=60)
    bell.ring()
    await asyncio.sleep(0.01)
    assert woken == [0]
    bell.ring()
    await asyncio.sleep(0.01)
    assert woken == [0, 1]
    bell.ring_all()
    await asyncio.gather(*tasks)
    assert sorted(woken) == [0, 1, 2, 3]


async def test_only_one_waiting_sender_looks_again_on_its_own() -> None:
    bell = Doorbell()
    tasks, woken = await waiting(bell, 3, idle_seconds=0.3)
    await asyncio.sleep(0.45)
    assert woken == [0], "the watcher's idle period ran out; the others wait to be rung"
    await asyncio.sleep(0.3)
    assert woken == [0, 1], "the watcher gone (to look for mail), the next waiting sender watches, alone"
    bell.ring_all()
    await asyncio.gather(*tasks)
    await asyncio.wait_for(bell.wait(0.05), 1)  # nobody waits: the next sender to wait watches


async def test_the_watch_passes_on_when_the_watcher_is_rung() -> None:
    """A watcher woken to send (perhaps for long, to a slow server) leaves one of the idle senders watching."""
    bell = Doorbell()
    tasks, woken = await waiting(bell, 3, idle_seconds=60)
    bell.ring()  # the watcher, who waited longest
    await asyncio.sleep(0.01)
    assert woken == [0]
    tasks[1].cancel()  # and a sender stopped while it waits leaves the others as they were
    await asyncio.sleep(0.01)
    assert bell._watched, "a waiting sender watches"
    bell.ring_all()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_ring_with_nobody_waiting_is_not_kept_for_later() -> None:
    bell = Doorbell()
    bell.ring()
    tasks, woken = await waiting(bell, 2, idle_seconds=60)
    await asyncio.sleep(0.05)
    assert woken == []
    bell.ring_all()
    await asyncio.gather(*tasks)
