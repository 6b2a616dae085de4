"""The JSONL sink's rotation, and the queue in front of every sink: bounded, never blocking,
every drop counted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from router.metrics import Metrics
from router.requestlog.read import open_log, rotated_files
from router.requestlog.record import decode, encode
from router.requestlog.sinks import JsonlSink
from router.requestlog.writer import QueuedLog
from support.request_records import record


def _dropped(metrics: Metrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "router_request_log_dropped_total", {"reason": reason}
    )
    return value or 0.0


def _written(metrics: Metrics, sink: str) -> float:
    value = metrics.registry.get_sample_value("router_request_log_written_total", {"sink": sink})
    return value or 0.0


async def test_jsonl_sink_rotates_by_size_and_keeps_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "requests.jsonl"  # the directory is created
    line = encode(record(10))  # records 10-32: lines of one length
    sink = JsonlSink(path, rotate_bytes=5 * (len(line) + 1), keep=2)
    for n in range(10, 33):
        await sink.write([encode(record(n))])
    # 23 records, five per file: 20 rotated through .1 and .2, the oldest ten deleted
    assert sorted(p.name for p in path.parent.glob("requests.jsonl*")) == [
        "requests.jsonl",
        "requests.jsonl.1",
        "requests.jsonl.2",
        "requests.jsonl.lock",
    ]
    assert rotated_files(path) == [sink.rotated(2), sink.rotated(1), path]
    assert all(f.stat().st_size <= 5 * (len(line) + 1) for f in rotated_files(path))
    ids = [r.request_id for r in open_log(str(path))]
    assert ids == [f"req-{n}" for n in range(20, 33)]  # oldest first, nothing lost in between


def test_jsonl_sinks_in_several_threads_share_a_file_without_tearing_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "requests.jsonl"
    lines = [encode(record(n)) for n in range(50)]

    def writer(offset: int) -> None:
        sink = JsonlSink(path, rotate_bytes=40 * (len(lines[0]) + 1), keep=50)  # its own handle
        for n in range(0, 50, 5):
            asyncio.run(sink.write([lines[(n + offset) % 50]] * 5))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    source = open_log(str(path))
    got = list(source)
    assert source.skipped.count == 0  # every line parsed: none interleaved or cut
    assert len(got) == 4 * 50
    assert len(rotated_files(path)) > 1


class SlowSink:
    """Holds every batch until released; remembers what it was given."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.batches: list[list[bytes]] = []

    @property
    def name(self) -> str:
        return "jsonl"

    async def write(self, lines: Sequence[bytes]) -> None:
        await self.release.wait()
        self.batches.append(list(lines))

    async def aclose(self) -> None:
        return None


async def test_a_full_queue_drops_and_counts_and_never_waits() -> None:
    metrics = Metrics.create()
    sink = SlowSink()
    log = QueuedLog(sink, metrics, queue_size=3)
    log.start()
    log.submit(record(0))
    await asyncio.sleep(0.01)  # the writer took record 0 and is stuck in the sink
    for n in range(1, 8):
        log.submit(record(n))  # returns at once, whatever the sink does
    assert _dropped(metrics, "queue_full") == 4  # 1-3 queued, 4-7 dropped
    sink.release.set()
    await log.aclose()
    written = [decode(line).request_id for batch in sink.batches for line in batch]
    assert written == ["req-0", "req-1", "req-2", "req-3"]
    assert _written(metrics, "jsonl") == 4
    assert _dropped(metrics, "shutdown") == 0


class BrokenSink:
    @property
    def name(self) -> str:
        return "redis"

    async def write(self, lines: Sequence[bytes]) -> None:
        raise ConnectionError("sink is down")

    async def aclose(self) -> None:
        return None


async def test_a_failing_sink_is_counted_and_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics.create()
    log = QueuedLog(BrokenSink(), metrics, queue_size=100, batch=2)
    log.start()
    for n in range(5):
        log.submit(record(n))
    await log.aclose()
    assert _dropped(metrics, "sink_error") == 5
    assert _written(metrics, "redis") == 0
    warnings = [r for r in caplog.records if "sink failed" in r.getMessage()]
    assert len(warnings) == 1  # three failed batches, one warning a minute


async def test_close_gives_up_on_a_stuck_sink_and_counts_what_was_left() -> None:
    metrics = Metrics.create()
    log = QueuedLog(SlowSink(), metrics, queue_size=10, batch=1)
    log.start()
    for n in range(4):
        log.submit(record(n))
    await asyncio.sleep(0.01)
    await log.aclose(timeout_s=0.05)  # the sink never returns
    assert _dropped(metrics, "shutdown") == 3  # one was in the sink's hands when cancelled


def test_submit_without_a_running_writer_still_never_raises() -> None:
    metrics = Metrics.create()
    log = QueuedLog(SlowSink(), metrics, queue_size=1)
    log.submit(record(0))
    log.submit(record(1))
    assert _dropped(metrics, "queue_full") == 1
