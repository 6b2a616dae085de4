"""``router replay`` on a small hand-made log: shares, modelled cost and latency, refusals,
and the latency profile it learns from the log."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from router.cli import main
from router.config.load import load_config
from router.policy.difficulty import DENSE
from router.requestlog.profile import fit
from router.requestlog.record import LoggedFeatures, encode
from router.requestlog.replay import replay
from router.requestlog.replay_report import render, summarise
from support.request_records import record

CATALOG = """\
models:
  small:
    deployments: [{provider: openai, model: small, base_url: "http://127.0.0.1:9/v1"}]
    pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4}
    quality: {general: 0.7, code: 0.8, reasoning: 0.6}
    latency: {ttft_s: 0.2, output_tokens_per_s: 200}
  big:
    deployments: [{provider: openai, model: big, base_url: "http://127.0.0.1:9/v1"}]
    pricing: {input_per_mtok: 2.5, output_per_mtok: 10}
    quality: {general: 0.9, code: 0.9, reasoning: 0.9}
"""
# As logged: everything on big. The candidate: general to small, the rest stays on big,
# and the "legacy" policy clients named is gone.
CANDIDATE = """\
policies:
  main:
    default: true
    rules:
      - {name: general, when: {task: general}, candidates: [small]}
      - {name: other, candidates: [big]}
"""


def _log(path: Path) -> Path:
    records = [
        *(record(n, task="general", completion_tokens=100 + 10 * n,
                 upstream_s=0.5 + 0.01 * (100 + 10 * n), model="big",
                 deployment="big@openai") for n in range(6)),
        *(record(10 + n, task="code", completion_tokens=200, upstream_s=2.5, model="big",
                 deployment="big@openai") for n in range(3)),
        record(20, requested="legacy", task="general", model="big", deployment="big@openai",
               completion_tokens=100, upstream_s=1.5),
    ]  # fmt: skip
    path.write_bytes(b"".join(encode(r) + b"\n" for r in records))
    return path


@pytest.fixture
def candidate(tmp_path: Path) -> Path:
    directory = tmp_path / "candidate"
    directory.mkdir()
    (directory / "models.yaml").write_text(CATALOG)
    (directory / "routing.yaml").write_text(CANDIDATE)
    return directory


def test_replay_reports_shares_cost_latency_quality_and_refusals(
    tmp_path: Path, candidate: Path
) -> None:
    from router.requestlog.read import open_log

    log = _log(tmp_path / "requests.jsonl")
    result = replay(open_log(str(log)), load_config(candidate))
    report = summarise(result, str(log), str(candidate), examples=2)
    shares = {s.model: (s.before, s.after) for s in report.shares}
    assert shares == {"small": (0, 6), "big": (10, 3), "(none)": (0, 1)}
    assert report.changed == 6
    [move] = report.moves
    assert (move.label, move.count) == ("big -> small", 6)
    assert [e.request_id for e in move.examples] == ["req-0", "req-1"]
    assert "main/general" in move.examples[0].detail
    [refused] = report.refused
    assert (refused.label, refused.count) == ("model_not_found", 1)
    assert refused.examples[0].request_id == "req-20"
    assert "legacy" in refused.examples[0].detail

    cost, latency, quality, as_good = report.figures
    # compared on the 9 requests served on both sides: 6 moved to a 25x cheaper model
    assert cost.n == 9
    assert cost.after is not None
    assert cost.before is not None
    assert cost.after < cost.before
    big = [(40, 100 + 10 * n) for n in range(6)] + [(40, 200)] * 3
    assert cost.before == pytest.approx(sum(p * 2.5e-6 + c * 10e-6 for p, c in big))
    assert cost.actual == pytest.approx(0.009)  # as logged: 0.001 each
    # small is not in the log: its latency comes from the catalog's profile
    small = [0.2 + (100 + 10 * n) / 200 for n in range(6)]
    assert latency.after == pytest.approx((sum(small) + 3 * 2.5) / 9)
    assert quality.before == pytest.approx(0.9)
    assert quality.after == pytest.approx((6 * 0.7 + 3 * 0.9) / 9)
    assert as_good.n == 0  # no learned signal in the candidate
    text = render(report)
    assert "big -> small: 6" in text
    assert "refused by the candidate: 1 of 10 requests" in text


def test_the_latency_profile_is_fitted_from_the_log() -> None:
    line = fit([(100, 1.5), (200, 2.5), (300, 3.5)])
    assert (line.intercept_s, line.per_token_s) == pytest.approx((0.5, 0.01))
    assert fit([(100, 2.0), (200, 1.0), (300, 0.5)]).per_token_s == 0  # noise: the mean
    assert fit([(100, 2.0)]).at(500) == 2.0
    through_origin = fit([(100, 0.2), (200, 0.6), (300, 1.0)])
    assert through_origin.intercept_s == 0.0
    assert through_origin.per_token_s > 0


def test_the_replay_command_prints_json_and_refuses_a_missing_log(
    tmp_path: Path, candidate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path / "requests.jsonl")
    assert main(["replay", str(log), "--config", str(candidate), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["requests"] == 10
    assert {s["model"]: s["after"] for s in report["shares"]}["small"] == 6
    assert main(["replay", str(tmp_path / "nope.jsonl"), "--config", str(candidate)]) == 2
    assert "no request log at" in capsys.readouterr().err


def test_the_progress_bar_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    """tqdm comes with the eval extra; without it replay runs with no bar."""
    import io
    import sys

    from router.offline import progress_bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def drawn() -> str:
        out = Terminal()
        with progress_bar(10_000, "router replay", out) as tick:
            tick(5_000)
        return out.getvalue()

    assert "router replay" in drawn()  # tqdm is installed here (dev group)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    assert drawn() == ""


def test_a_candidate_that_narrows_a_keys_access_refuses_its_requests(
    tmp_path: Path, candidate: Path
) -> None:
    from router.requestlog.read import open_log

    (candidate / "auth.yaml").write_text(
        "auth:\n  keys:\n    - name: ci\n      hash: sha256:" + "0" * 64 + "\n"
        "      allow: {policies: [main]}\n"  # the policy by name, not the 'auto' alias
    )
    log = _log(tmp_path / "requests.jsonl")
    report = summarise(replay(open_log(str(log)), load_config(candidate)), "log", "candidate")
    refused = {g.label: g.count for g in report.refused}
    assert refused == {"model_not_allowed": 9, "model_not_found": 1}


def test_replay_leaves_out_a_deployment_that_cannot_honour_a_logged_parameter(
    tmp_path: Path,
) -> None:
    from router.requestlog.read import open_log

    directory = tmp_path / "claude-only"
    directory.mkdir()
    (directory / "models.yaml").write_text(
        "models:\n  claude:\n"
        '    deployments: [{provider: anthropic, model: claude-x, base_url: "http://127.0.0.1:9"}]\n'
        "    pricing: {input_per_mtok: 3, output_per_mtok: 15}\n"
        "    quality: {general: 0.9, code: 0.9, reasoning: 0.9}\n"
    )
    (directory / "routing.yaml").write_text(
        "policies:\n  main:\n    default: true\n    rules:\n"
        "      - {name: all, candidates: [claude]}\n"
    )
    asked_n = dataclasses.replace(
        record(1), features=LoggedFeatures("general", 40, demands=("n",), choices=2)
    )
    log = tmp_path / "requests.jsonl"
    log.write_bytes(encode(asked_n) + b"\n" + encode(record(2)) + b"\n")
    report = summarise(replay(open_log(str(log)), load_config(directory)), "log", "candidate")
    # Claude has no n: the request that asked for two choices is refused by name, as the
    # server would; the plain one is routed.
    assert {g.label: g.count for g in report.refused} == {"unsupported_parameter": 1}


SIGNAL = {
    "format": "router-difficulty/2",
    "heads": ["cheap_enough", "gain", "log_answer_tokens_strong", "log_answer_tokens_weak"],
    "strong": "big",
    "weak": "small",
    "bias": [0.5, 0.1, 4.0, 4.0],
    "mean_difficulty": 0.4,
    "upgrade_cost": {
        "mean_gain": 0.1,
        "mean_prompt_tokens": 40.0,
        "mean_answer_tokens": {"strong": 50.0, "weak": 50.0},
    },
    "dense_weights": {name: [0.0] * 4 for name in DENSE},
    "words": {"prove": [-4.0, 2.0, 0.0, 0.0]},
    "chars": {},
    "bigrams": {},
}
PER_COST = """\
server: {difficulty_model: d.json}
policies:
  main:
    default: true
    rules:
      - {name: upgrade, when: {difficulty_per_cost: {min: 1.0}}, candidates: [big]}
      - {name: cheap, candidates: [small]}
"""


def test_replay_routes_on_difficulty_per_cost_logged_or_rescored(tmp_path: Path) -> None:
    from router.requestlog.read import open_log
    from router.requestlog.record import LoggedMessage, Text

    directory = tmp_path / "candidate"
    directory.mkdir()
    (directory / "models.yaml").write_text(CATALOG)
    (directory / "routing.yaml").write_text(PER_COST)
    (directory / "d.json").write_text(json.dumps(SIGNAL))
    config = load_config(directory)
    assert config.difficulty is not None
    # as logged live: one worth upgrading, one not (prompts not captured: the logged value)
    worth = record(1, model="small", deployment="small@openai")
    assert worth.features is not None
    worth.features.difficulty_per_cost = 3.0
    not_worth = record(2, model="big", deployment="big@openai")
    assert not_worth.features is not None
    not_worth.features.difficulty_per_cost = 0.2
    # captured: the candidate's signal scores it again ("prove" predicts a gain of 1.1)
    captured = record(3, model="small", deployment="small@openai")
    captured.prompt = Text(captured.prompt.sha256, (LoggedMessage("user", "prove it"),))
    assert captured.features is not None
    expected = config.difficulty.score("prove it", "general", 40).per_cost
    assert expected is not None
    assert expected > 1.0
    log = tmp_path / "requests.jsonl"
    log.write_bytes(b"".join(encode(r) + b"\n" for r in (worth, not_worth, captured)))
    result = replay(open_log(str(log)), config)
    report = summarise(result, str(log), str(directory), examples=1)
    assert {s.model: (s.before, s.after) for s in report.shares} == {
        "big": (1, 2),
        "small": (2, 1),
    }
    assert result.rescored == 1
