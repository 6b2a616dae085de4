"""The batcher under admission: one store round trip at a time; what arrives meanwhile goes
together in the next one, in order, and each submission gets its own answer or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from router.tenancy.batch import Batcher


class Gated:
    """A send that records each batch and holds it until ``release`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()
        self.fail: set[int] = set()  # batches (by index) that raise

    async def __call__(self, items: Sequence[int]) -> list[str]:
        index = len(self.batches)
        self.batches.append(list(items))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        if index in self.fail:
            raise ConnectionError(f"batch {index}")
        return [f"answer {i}" for i in items]


async def test_what_arrives_during_a_round_trip_goes_together_in_the_next_in_order() -> None:
    send = Gated()
    batcher: Batcher[int, str] = Batcher(send)
    first = batcher.submit(0)
    await asyncio.sleep(0)  # the first round trip leaves and is held
    assert send.batches == [[0]]
    later = [batcher.submit(i) for i in range(1, 6)]
    await asyncio.sleep(0)
    assert send.batches == [[0]]  # nothing else leaves while one is in flight
    send.release.set()
    answers = await asyncio.gather(first, *later)
    assert send.batches == [[0], [1, 2, 3, 4, 5]]
    assert answers == [f"answer {i}" for i in range(6)]  # each its own, in order
    assert send.most_in_flight == 1


async def test_a_lone_submission_waits_for_no_one() -> None:
    send = Gated()
    send.release.set()
    batcher: Batcher[int, str] = Batcher(send)
    assert await batcher.submit(7) == "answer 7"
    assert await batcher.submit(8) == "answer 8"
    assert send.batches == [[7], [8]]


async def test_a_failed_round_trip_fails_each_of_its_members_and_not_the_next() -> None:
    send = Gated()
    send.fail = {1}
    batcher: Batcher[int, str] = Batcher(send)
    first = batcher.submit(0)
    await asyncio.sleep(0)
    failing = [batcher.submit(i) for i in (1, 2)]
    send.release.set()
    assert await first == "answer 0"
    for future in failing:
        with pytest.raises(ConnectionError, match="batch 1"):
            await future
    assert await batcher.submit(3) == "answer 3"  # the batcher goes on


async def test_max_batch_splits_a_long_queue() -> None:
    send = Gated()
    send.release.set()
    batcher: Batcher[int, str] = Batcher(send, max_batch=2)
    futures = [batcher.submit(i) for i in range(5)]
    assert await asyncio.gather(*futures) == [f"answer {i}" for i in range(5)]
    assert send.batches == [[0, 1], [2, 3], [4]]


async def test_drain_waits_for_everything_submitted() -> None:
    send = Gated()
    batcher: Batcher[int, str] = Batcher(send)
    futures = [batcher.submit(i) for i in range(3)]
    await asyncio.sleep(0)
    futures.append(batcher.submit(3))  # queued behind the one in flight
    draining = asyncio.create_task(batcher.drain())
    await asyncio.sleep(0)
    assert not draining.done()
    send.release.set()
    await draining
    assert all(f.done() for f in futures)
    assert send.batches == [[0, 1, 2], [3]]
