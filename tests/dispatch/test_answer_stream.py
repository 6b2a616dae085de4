"""``AnswerStream``: the stream dispatch hands on yields from the first chunk and reports its
own attempt exactly once, however it ends (read to the end, broken, or closed early)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from router.config.catalog import Deployment, Price
from router.config.schema import Timeouts
from router.dispatch.attempts import AttemptOutcome, IgnoreAttempts
from router.dispatch.dispatcher import Dispatcher
from router.errors import AttemptError, AttemptFailed, StreamInterrupted
from router.policy.decision import Candidate, Decision
from router.upstream import ChunkStream, Completion

A = Deployment("a", "m", "openai", "m", None, None, None, Price(1e-6, 2e-6, "t"), Timeouts())
ROLE = {"choices": [{"delta": {"role": "assistant"}}]}


def _text(t: str) -> dict[str, Any]:
    return {"choices": [{"delta": {"content": t}}]}


class Source:
    """A scripted upstream stream: its chunks, then maybe a failure; notes being closed."""

    def __init__(self, chunks: list[dict[str, Any]], fail: bool = False) -> None:
        self.chunks, self.fail, self.closed = chunks, fail, 0

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._run()

    async def _run(self) -> AsyncIterator[dict[str, Any]]:
        for chunk in self.chunks:
            yield chunk
        if self.fail:
            raise AttemptFailed(AttemptError("a", "protocol", None, "dropped"))

    async def aclose(self) -> None:
        self.closed += 1


class OneStream:
    def __init__(self, source: Source) -> None:
        self.source = source

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        raise NotImplementedError

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        return self.source

    async def aclose(self) -> None:
        return None


class Recorder(IgnoreAttempts):
    def __init__(self) -> None:
        self.outcomes: list[AttemptOutcome] = []

    def attempt_finished(self, outcome: AttemptOutcome) -> None:
        self.outcomes.append(outcome)


async def _open(source: Source) -> tuple[Any, Recorder]:
    observer = Recorder()
    dispatcher = Dispatcher(OneStream(source), observer)
    stream = await dispatcher.stream(Decision("p", "r", (Candidate(A),), "test"), {})
    assert observer.outcomes == []  # nothing reported while the stream is open
    return stream, observer


async def test_read_to_the_end_it_yields_from_the_first_chunk_and_reports_success() -> None:
    source = Source([ROLE, _text("Hel"), _text("lo")])
    stream, observer = await _open(source)
    assert [c async for c in stream] == [ROLE, _text("Hel"), _text("lo")]
    await stream.aclose()  # the API always closes it: still one report
    [outcome] = observer.outcomes
    assert (outcome.ok, outcome.cancelled, outcome.interrupted) == (True, False, False)
    assert outcome.ttft_s is not None
    assert source.closed >= 1


async def test_a_failure_after_the_first_chunk_interrupts_and_is_reported_once() -> None:
    stream, observer = await _open(Source([_text("Hel")], fail=True))
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        async for chunk in stream:
            seen.append(chunk)

    with pytest.raises(StreamInterrupted) as interrupted:
        await read()
    assert seen == [_text("Hel")]
    assert interrupted.value.error.kind == "protocol"
    await stream.aclose()
    [outcome] = observer.outcomes
    assert (outcome.ok, outcome.interrupted, outcome.cancelled) == (False, True, False)
    assert outcome.error is not None


async def test_closed_before_it_is_read_it_is_a_cancelled_attempt() -> None:
    source = Source([_text("Hel"), _text("lo")])
    stream, observer = await _open(source)
    await stream.aclose()
    [outcome] = observer.outcomes
    assert (outcome.ok, outcome.cancelled) == (False, True)
    assert source.closed == 1
