"""The request log end to end: the shipped policies on the provider emulators (as ``router
demo`` runs them) serve the demo's traffic mix with a JSONL request log on, then ``router
replay`` runs that log through a candidate that sends code to GPT-4o and drops the ``cheap``
policy, and the report moves exactly those requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from router.cli import main
from router.demo.emulate import emulate
from router.demo.traffic import MIX, run_traffic
from router.requestlog.read import open_log
from support.stack import Emulators, RouterFactory

REPO = Path(__file__).resolve().parents[2]
REQUESTS = 48  # eight rounds of the demo's six-item mix


def _shipped_on_emulators(directory: Path, emulators: Emulators) -> Path:
    emulate(REPO / "policies", directory, emulators.endpoints)
    return directory


@pytest.fixture
def logged(tmp_path: Path, emulators: Emulators, start_router: RouterFactory) -> Path:
    live = _shipped_on_emulators(tmp_path / "live", emulators)
    log = tmp_path / "logs" / "requests.jsonl"
    (live / "request_log.yaml").write_text(f"request_log: {{sink: jsonl, path: '{log}'}}\n")
    routing = yaml.safe_load((live / "routing.yaml").read_text())
    routing["policies"]["coding"]["log"] = {"capture": "prompts"}
    # Key order kept: a sticky split's arms are taken in their written order, and router serve
    # refuses a config whose own test cases (which pin the arms) fail.
    (live / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    router = start_router(live)
    report = run_traffic(router.v1, None, REQUESTS, lambda done, total: None)
    assert report.errors == 0
    router.stop()  # the lifespan writes what is queued
    return log


def test_live_traffic_is_logged_and_replayed_under_another_policy(
    logged: Path, tmp_path: Path, emulators: Emulators, capsys: pytest.CaptureFixture[str]
) -> None:
    records = list(open_log(str(logged)))
    assert len(records) == REQUESTS
    assert len({r.request_id for r in records}) == REQUESTS
    by_kind = {item.kind: item for item in MIX}
    coding = [r for r in records if r.policy == "coding"]
    cheap = [r for r in records if r.requested == "cheap"]
    assert len(cheap) == REQUESTS // len(by_kind)
    # the coding policy captures prompts; the cheap one keeps hashes only
    assert all(r.prompt.messages for r in coding)
    assert all(r.answer is not None and r.answer.text for r in coding)
    assert all((r.prompt.messages is None and r.answer is None) or r.answer.text is None
               for r in cheap)  # fmt: skip
    assert len({r.prompt.sha256 for r in cheap}) == 1  # one question asked again and again
    assert sum(r.cache == "hit" for r in cheap) == len(cheap) - 1
    streamed = [r for r in records if r.features is not None and r.features.stream]
    assert streamed
    assert all(r.ttft_s is not None for r in streamed)
    served = [r for r in records if r.cache != "hit"]
    assert all(r.attempts and r.attempts[-1].ok for r in served)
    assert all(r.chain and r.features is not None for r in records)
    code_on_mai = [r for r in coding if r.rule == "code" and r.model == "mai-code-1-flash"]
    assert code_on_mai, "the shipped policy sends code to MAI-Code-1-Flash"

    # the candidate: code goes to GPT-4o first, and the cheap policy is gone
    candidate = _shipped_on_emulators(tmp_path / "candidate", emulators)
    routing = yaml.safe_load((candidate / "routing.yaml").read_text())
    code_rule = routing["policies"]["coding"]["rules"][0]
    assert code_rule["name"] == "code"
    code_rule["candidates"] = ["gpt-4o", "claude-sonnet"]
    code_rule["fallbacks"] = ["claude-sonnet"]
    del routing["policies"]["cheap"]
    (candidate / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    (candidate / "tests.yaml").unlink()  # its cases pin the shipped routes

    assert main(["replay", str(logged), "--config", str(candidate), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["requests"] == REQUESTS
    moves = {m["label"]: m for m in report["moves"]}
    move = moves["mai-code-1-flash -> gpt-4o"]
    assert move["count"] == len(code_on_mai)
    assert {e["request_id"] for e in move["examples"]} <= {r.request_id for r in code_on_mai}
    assert report["changed"] == len(code_on_mai)
    [refused] = report["refused"]
    assert refused["label"] == "model_not_found"
    assert refused["count"] == len(cheap)
    shares = {s["model"]: s for s in report["shares"]}
    before_mai = sum(1 for r in records if r.model == "mai-code-1-flash")
    assert shares["mai-code-1-flash"]["before"] == before_mai
    assert shares["mai-code-1-flash"]["after"] == before_mai - len(code_on_mai) - sum(
        1 for r in cheap if r.model == "mai-code-1-flash"
    )
    assert shares["gpt-4o"]["after"] == shares["gpt-4o"]["before"] + len(code_on_mai) - sum(
        1 for r in cheap if r.model == "gpt-4o"
    )
    assert shares["(none)"]["after"] == len(cheap)
    cost = next(f for f in report["figures"] if f["name"].startswith("cost"))
    assert cost["after"] > cost["before"]  # GPT-4o costs more than MAI-Code-1-Flash

    # the same log, as a text table
    assert main(["replay", str(logged), "--config", str(candidate)]) == 0
    text = capsys.readouterr().out
    assert f"mai-code-1-flash -> gpt-4o: {len(code_on_mai)}" in text
    assert f"refused by the candidate: {len(cheap)} of {REQUESTS} requests" in text
