"""Microbenchmark of what the request log costs a request, and what it costs the writer.

    .venv/bin/python bench/bench_request_log.py [ITERATIONS]

With the shipped ``policies/``: a request is decided once, then per iteration its trail is
opened, filled as the pipeline fills it (decision, deployment, tokens, cost, a 2,000-char
answer) and turned into a record, prompt and answer hashed (``RequestTrail.record``: this
part runs on the request path); then the record is encoded as the background writer does.
Thread CPU time, so other processes on a busy machine count less.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import orjson

from router.config.load import load_config
from router.metrics import Metrics
from router.policy.decider import PolicyDecider
from router.requestlog.record import RequestRecord, encode
from router.requestlog.sinks import JsonlSink
from router.requestlog.trail import RequestRecorder
from router.requestlog.writer import QueuedLog
from router.shapes import ANONYMOUS
from router.signals import Signals, SignalSettings
from router.wire import parse_chat_request

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    config = load_config(REPO / "policies")
    metrics = Metrics.create()
    sink = JsonlSink(Path("/dev/null"), 1 << 40, 1)
    recorder = RequestRecorder(QueuedLog(sink, metrics, 10), metrics)
    signals = Signals(time.perf_counter, SignalSettings(), lambda *_: None)
    body = {"model": "auto", "messages": [{"role": "user", "content": "Reverse a list. " * 120}]}
    request = parse_chat_request(orjson.dumps(body), max_messages=100)
    decision = PolicyDecider(signals)(request, ANONYMOUS, {}, config)
    answer = {"choices": [{"message": {"role": "assistant", "content": "x" * 2000}}]}
    clock = time.thread_time_ns
    build: list[int] = []
    write: list[int] = []
    record: RequestRecord | None = None
    for _ in range(iterations):
        start = clock()
        trail = recorder.trail("rid", request, ANONYMOUS, {"authorization": "x"}, config)
        assert trail is not None
        trail.decision, trail.deployment = decision, decision.chain[0].deployment.name
        trail.tokens, trail.cost_usd = (500, 500), 0.001
        trail.answered(body=answer)
        record = trail.record(200, None, 0.5)
        middle = clock()
        encode(record)
        build.append(middle - start)
        write.append(clock() - middle)
    assert record is not None
    for name, samples in (("request path (trail -> record)", build), ("writer (encode)", write)):
        samples.sort()
        median, p99 = statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000
        print(f"{name:<32} median {median:6.1f} us, p99 {p99:6.1f} us")
    print(f"record: {len(encode(record))} bytes, {len(decision.chain)} candidates in the chain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
