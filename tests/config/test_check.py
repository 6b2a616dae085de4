"""`router check` and `router explain` on good and broken configs: exit codes and output."""

from __future__ import annotations

import io
import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from router.config.check import check_main, explain_main, try_load
from router.config.load import Config
from router.config.yamlsrc import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "policies"

MODELS = """\
models:
  small:
    deployments:
      - {provider: openai, model: small-x, base_url: "http://127.0.0.1:9/v1"}
    pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4, source: test}
    context_window: 16000
    capabilities: [tools]
    quality: {code: 0.5, general: 0.6, reasoning: 0.4}
  big:
    deployments:
      - {provider: openai, model: big-x, base_url: "http://127.0.0.1:9/v1"}
    pricing: {input_per_mtok: 3, output_per_mtok: 15, source: test}
    context_window: 128000
    capabilities: [tools, vision, json_mode]
    quality: {code: 0.9, general: 0.9, reasoning: 0.9}
"""


def write(tmp_path: Path, routing: str) -> Path:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "routing.yaml").write_text(textwrap.dedent(routing))
    return tmp_path


def check(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = check_main(path, out)
    return code, out.getvalue()


def test_shipped_policies_pass_with_their_tests() -> None:
    code, output = check(SHIPPED)
    assert code == 0, output
    assert "FAIL" not in output
    assert output.rstrip().endswith("tests passed")
    assert "ok: 3 models, 8 policies" in output
    assert output.count("PASS ") >= 10


GOOD = """\
policies:
  main:
    default: true
    rules:
      - name: code
        when: {task: code}
        objective: quality
        candidates: [big, small]
      - name: rest
        objective: cost
        candidates: [small, big]
tests:
  - name: code goes to big
    request: {model: auto, messages: [{role: user, content: "Fix: ```x = 1```"}]}
    expect: {rule: code, model: big}
  - name: chat goes to small
    request: {model: auto, messages: [{role: user, content: "Hi"}]}
    expect: {rule: rest, model: small, deployment: small@openai}
  - name: an open circuit moves chat to big
    request: {model: auto, messages: [{role: user, content: "Hi"}]}
    signals: {open: [small@openai]}
    expect: {model: big}
"""


def test_good_config_passes(tmp_path: Path) -> None:
    code, output = check(write(tmp_path, GOOD))
    assert code == 0, output
    assert "ok: 2 models, 1 policies, 3/3 tests passed" in output
    assert f"PASS {tmp_path / 'routing.yaml'}:13:5: code goes to big" in output


def test_failing_test_case_is_reported_with_its_position(tmp_path: Path) -> None:
    broken = GOOD.replace("expect: {model: big}", "expect: {model: small}")
    code, output = check(write(tmp_path, broken))
    assert code == 1
    assert (
        f"FAIL {tmp_path / 'routing.yaml'}:22:5: an open circuit moves chat to big: "
        "expected model 'small', got 'big'"
    ) in output
    assert "FAILED: 2 models, 1 policies, 2/3 tests passed" in output


def test_expected_error_cases(tmp_path: Path) -> None:
    cases = GOOD + textwrap.indent(
        textwrap.dedent("""\
        - name: unknown model is a 404
          request: {model: nope, messages: [{role: user, content: "Hi"}]}
          expect: {error: 404, message_contains: "small"}
        - name: wrong status fails
          request: {model: nope, messages: [{role: user, content: "Hi"}]}
          expect: {error: 400}
        """),
        "  ",
    )
    code, output = check(write(tmp_path, cases))
    assert code == 1
    assert "PASS" in output
    assert "unknown model is a 404" in output
    assert "wrong status fails: expected error 400, got 404" in output


def test_a_case_can_pin_the_prompt_estimate(tmp_path: Path) -> None:
    """``prompt_tokens`` stands for a long conversation without writing one out."""
    sized = GOOD.replace("when: {task: code}", "when: {task: code, max_prompt_tokens: 1000}")
    cases = sized + textwrap.indent(
        textwrap.dedent("""\
        - name: a long coding session falls through to rest
          request: {model: auto, messages: [{role: user, content: "Fix: ```x = 1```"}]}
          prompt_tokens: 5000
          expect: {rule: rest}
        - name: its estimate as written still takes the code rule
          request: {model: auto, messages: [{role: user, content: "Fix: ```x = 1```"}]}
          expect: {rule: code}
        """),
        "  ",
    )
    code, output = check(write(tmp_path, cases))
    assert code == 0, output
    assert "5/5 tests passed" in output


@pytest.mark.parametrize(
    ("routing", "line_col", "message"),
    [
        # a rule after a catch-all can never fire
        (
            """\
         policies:
           main:
             rules:
               - {name: all, candidates: [small]}
               - {name: code, when: {task: code}, candidates: [big]}
         """,
            "5:9",
            "rule 'code' is unreachable: rule 'all'",
        ),
        # a narrower rule after a broader one
        (
            """\
         policies:
           main:
             rules:
               - {name: code, when: {task: [code, reasoning]}, candidates: [big]}
               - {name: code-team, when: {task: code, team: a}, candidates: [small]}
               - {name: rest, candidates: [small]}
         """,
            "5:9",
            "rule 'code-team' is unreachable: rule 'code'",
        ),
        # a match that can never be true
        (
            """\
         policies:
           main:
             rules:
               - name: never
                 when: {min_prompt_tokens: 100, max_prompt_tokens: 10}
                 candidates: [small]
         """,
            "5:9",
            "rule 'never' can never match: min_prompt_tokens 100 > max_prompt_tokens 10",
        ),
        # a quality floor above every candidate
        (
            """\
         policies:
           main:
             rules:
               - name: r
                 when: {task: code}
                 candidates: [small, big]
                 constraints: {min_quality: 0.95}
         """,
            "7:23",
            "min_quality 0.95 is above every candidate's code quality (best 0.9)",
        ),
        # a cost cap below any request's cost
        (
            """\
         policies:
           main:
             rules:
               - name: r
                 candidates: [big]
                 constraints: {max_cost_usd: 0.0000001}
         """,
            "6:23",
            "max_cost_usd 1e-07 is below the cheapest possible request",
        ),
        # a capability no candidate has
        (
            """\
         policies:
           main:
             rules:
               - name: r
                 candidates: [small]
                 constraints: {require: [vision]}
         """,
            "4:9",
            "rule 'r' needs capability 'vision', which no candidate has",
        ),
        # an unknown model
        (
            """\
         policies:
           main:
             rules:
               - {name: r, candidates: [smal]}
         """,
            "4:32",
            "unknown model or deployment 'smal'",
        ),
    ],
)
def test_broken_config_is_reported_at_its_position(
    tmp_path: Path, routing: str, line_col: str, message: str
) -> None:
    path = write(tmp_path, routing)
    code, output = check(path)
    assert code == 1
    assert f"{tmp_path / 'routing.yaml'}:{line_col}: {message}" in output
    assert "problem(s)" in output
    loaded = try_load(path)  # what hot reload sees: the error, not a config
    assert isinstance(loaded, ConfigError)


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    code, output = check(write(tmp_path, "policies:\n  main: [\n"))
    assert code == 1
    assert f"{tmp_path / 'routing.yaml'}:3:1: YAML syntax" in output


def test_try_load_returns_the_config_when_good(tmp_path: Path) -> None:
    loaded = try_load(write(tmp_path, GOOD))
    assert isinstance(loaded, Config)
    assert list(loaded.policies.policies) == ["main"]
    assert loaded.policies.aliases["auto"] == "main"


def test_explain_prints_the_whole_decision(tmp_path: Path) -> None:
    out = io.StringIO()
    request = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "Hi"}]})
    code = explain_main(write(tmp_path, GOOD), request, {"X-Other": "1"}, out)
    assert code == 0
    body = json.loads(out.getvalue())
    assert body["policy"] == "main"
    assert body["rule"] == "rest"
    assert body["model"] == "small"
    assert [c["deployment"] for c in body["chain"]] == ["small@openai", "big@openai"]
    assert body["chain"][0]["expected_cost_usd"] > 0
    assert body["reason"].startswith("main/rest: task=general objective=cost -> small@openai")


def test_explain_reports_routing_errors_as_openai_errors(tmp_path: Path) -> None:
    out = io.StringIO()
    request = json.dumps({"model": "nope", "messages": [{"role": "user", "content": "Hi"}]})
    code = explain_main(write(tmp_path, GOOD), request, {}, out)
    assert code == 1
    body = json.loads(out.getvalue())
    assert body["status"] == 404
    assert "small" in body["error"]["message"]


@pytest.mark.parametrize("doc", ["README.md", "docs/anthropic.md"])
def test_docs_show_the_shipped_claude_code_policies(doc: str) -> None:
    """The Claude Code policies a doc shows are the shipped ones (comments aside)."""
    shipped = yaml.safe_load((SHIPPED / "claude-code.yaml").read_text())["policies"]
    text = (SHIPPED.parent / doc).read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    [shown] = [b["policies"] for b in blocks if "claude-code" in (b or {}).get("policies", {})]
    assert shown == {name: shipped[name] for name in shown}
