"""The Redis stream sink against a real ``redis-server``: records round-trip in order, the
stream stays near its ``maxlen``, two routers share one stream, and a dead Redis costs the
requests nothing but dropped (counted) records."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from redis import Redis

from router.metrics import Metrics
from router.requestlog.read import open_log
from router.requestlog.record import encode
from router.requestlog.redis_sink import RedisStreamSink, client_for
from router.requestlog.writer import QueuedLog
from support.redis_server import RedisServer
from support.request_records import record
from support.stack import RouterFactory


def _sink(url: str, key: str = "router:requests", maxlen: int = 1000) -> RedisStreamSink:
    return RedisStreamSink(client_for(url, 1.0), key, maxlen, timeout_s=2.0)


async def test_records_go_to_the_stream_and_read_back_in_order(redis_url: str) -> None:
    sink = _sink(redis_url, key="rl:test")
    for start in (0, 3):
        await sink.write([encode(record(n)) for n in range(start, start + 3)])
    await sink.aclose()
    source = open_log(f"{redis_url}?stream=rl:test")
    assert source.total == 6
    assert [r.request_id for r in source] == [f"req-{n}" for n in range(6)]
    assert "stream rl:test" in source.name


async def test_the_stream_is_trimmed_to_about_maxlen(redis_url: str) -> None:
    sink = _sink(redis_url, maxlen=100)
    line = encode(record(1))
    for _ in range(20):
        await sink.write([line] * 100)
    await sink.aclose()
    length = Redis.from_url(redis_url).xlen("router:requests")
    # MAXLEN ~ trims whole macro-nodes (100 entries each by default): near 100, never 2000
    assert 100 <= length <= 200


async def test_reading_pages_through_a_long_stream(redis_url: str) -> None:
    sink = _sink(redis_url, maxlen=5000)
    await sink.write([encode(record(n)) for n in range(2500)])
    await sink.aclose()
    ids = [r.request_id for r in open_log(redis_url)]  # the default stream key
    assert ids == [f"req-{n}" for n in range(2500)]


async def test_a_dead_redis_drops_records_and_counts_them(redis_server: RedisServer) -> None:
    metrics = Metrics.create()
    log = QueuedLog(_sink(redis_server.url), metrics, queue_size=100)
    log.start()
    log.submit(record(0))
    await asyncio.sleep(0.2)
    redis_server.kill()
    for n in range(1, 4):
        log.submit(record(n))  # returns at once: the request is not held up
    await log.aclose(timeout_s=5.0)
    sample = metrics.registry.get_sample_value
    assert sample("router_request_log_written_total", {"sink": "redis"}) == 1
    assert sample("router_request_log_dropped_total", {"reason": "sink_error"}) == 3


def test_two_routers_share_one_stream(
    start_router: RouterFactory, config_dir: Path, redis_url: str
) -> None:
    (config_dir / "log.yaml").write_text(
        f"request_log: {{sink: redis, redis_url: '{redis_url}', stream_key: 'shared'}}\n"
        "policies:\n  main:\n    default: true\n    log: {capture: prompts}\n"
        "    rules: [{name: all, candidates: [gpt-4o]}]\n"
    )
    routers = [start_router(config_dir), start_router(config_dir)]
    for n, router in enumerate(routers):
        response = httpx.post(
            f"{router.v1}/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": f"hello {n}"}]},
            headers={"x-request-id": f"from-router-{n}"},
            timeout=10,
        )
        assert response.status_code == 200
    deadline = time.monotonic() + 5
    while Redis.from_url(redis_url).xlen("shared") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    records = sorted(open_log(f"{redis_url}?stream=shared"), key=lambda r: r.request_id)
    assert [r.request_id for r in records] == ["from-router-0", "from-router-1"]
    first = records[0]
    assert (first.policy, first.rule, first.model) == ("main", "all", "gpt-4o")
    assert first.prompt.messages is not None
    assert first.prompt.messages[-1].text == "hello 0"
    assert first.answer is not None
    assert first.answer.text
    assert first.completion_tokens
    assert first.cost_usd is not None
    assert first.cost_usd > 0
    line = Redis.from_url(redis_url).xrange("shared", count=1)[0][1][b"r"]
    assert json.loads(line)["v"] == 1
