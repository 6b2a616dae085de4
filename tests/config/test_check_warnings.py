"""`router check` says what a config leaves to chance: requests no rule takes, split weights
that do not add up, a select team no key has, a roll a sticky split ignores, and what the
environment lacks (unset key variables, placeholder hosts); all in one run."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from router.config.check import check_main

MODELS = """\
models:
  small:
    deployments:
      - {name: small@a, provider: openai, model: small-x, base_url: "http://127.0.0.1:9/v1",
         api_key_env: SMALL_KEY}
    pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4, source: test}
    quality: {code: 0.5, general: 0.6, reasoning: 0.4}
  big:
    deployments:
      - {name: big@azure, provider: azure, model: big-x,
         base_url: "https://YOUR-RESOURCE.openai.azure.com", api_key_env: BIG_KEY}
    pricing: {input_per_mtok: 3, output_per_mtok: 15, source: test}
    quality: {code: 0.9, general: 0.9, reasoning: 0.9}
"""


def check(tmp_path: Path, routing: str, environ: dict[str, str] | None = None) -> tuple[int, str]:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "routing.yaml").write_text(textwrap.dedent(routing))
    out = io.StringIO()
    code = check_main(tmp_path, out, {} if environ is None else environ)
    return code, out.getvalue()


CLEAN = """\
policies:
  main:
    default: true
    rules:
      - {name: all, candidates: [small]}
"""


def test_a_clean_config_has_no_warnings(tmp_path: Path) -> None:
    code, out = check(tmp_path, CLEAN, {"SMALL_KEY": "k", "BIG_KEY": "k"})
    assert code == 0, out
    assert "warning: deployment big@azure is excluded from routing" in out  # placeholder host
    assert out.count("warning:") == 1


def test_unset_and_empty_key_variables_and_placeholder_hosts_are_reported(
    tmp_path: Path,
) -> None:
    code, out = check(tmp_path, CLEAN, {"SMALL_KEY": "  "})
    assert code == 0  # the config is sound; this environment cannot use it all
    assert "warning: deployment small@a is excluded from routing: its key variable " in out
    assert "SMALL_KEY is empty" in out
    assert "big@azure is excluded from routing: base_url still has the placeholder" in out
    assert "'YOUR-RESOURCE'" in out


def test_client_keys_whose_variable_is_unset_are_reported(tmp_path: Path) -> None:
    routing = CLEAN + "auth:\n  keys:\n    - {name: ci, key_env: CI_ROUTER_KEY, team: ci}\n"
    _, out = check(tmp_path, routing, {"SMALL_KEY": "k"})
    assert "warning: client key ci cannot authenticate: its key variable CI_ROUTER_KEY" in out


def test_requests_that_no_rule_takes_are_named(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        """\
        policies:
          main:
            default: true
            rules:
              - {name: code, when: {task: code}, candidates: [big]}
              - {name: reason, when: {task: reasoning, stream: false}, candidates: [big]}
        """,
        {"SMALL_KEY": "k"},
    )
    assert code == 0
    assert "policy 'main' has no rule for every request" in out
    assert "reasoning requests with stream; general requests fall through" in out
    assert "code requests" not in out


def test_split_weights_that_do_not_add_up_to_100_are_reported(tmp_path: Path) -> None:
    _, out = check(
        tmp_path,
        """\
        policies:
          main:
            default: true
            rules:
              - {name: ab, candidates: [small, big], split: {small: 90, big: 20}}
        """,
    )
    assert "routing.yaml:5:" in out
    assert "split weights add up to 110, not 100" in out


def test_a_select_team_no_key_belongs_to_is_reported(tmp_path: Path) -> None:
    routing = """\
    auth:
      keys:
        - {name: a, key_env: KEY_A, team: research}
    policies:
      main:
        default: true
        rules:
          - {name: all, candidates: [small]}
      lab:
        select: {team: reserch}
        rules:
          - {name: all, candidates: [big]}
    """
    _, out = check(tmp_path, routing, {"KEY_A": "k"})
    assert "policy 'lab' selects team 'reserch', which no key belongs to" in out
    assert "teams: research" in out


def test_a_roll_on_a_sticky_split_fails_its_test_case(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        """\
        policies:
          main:
            default: true
            rules:
              - {name: ab, candidates: [small, big], split: {small: 50, big: 50}, sticky: true}
        tests:
          - name: second arm
            request: {model: auto, messages: [{role: user, content: hi}]}
            roll: 0.9
            expect: {rule: ab}
        """,
    )
    assert code == 1
    assert "'roll' has no effect: rule 'ab' has a sticky split" in out


def test_lint_errors_do_not_hide_the_test_results(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        """\
        policies:
          main:
            default: true
            rules:
              - {name: all, candidates: [small]}
              - {name: never, when: {task: code}, candidates: [big]}
        tests:
          - name: wrong expectation
            request: {model: auto, messages: [{role: user, content: hi}]}
            expect: {rule: never}
        """,
    )
    assert code == 1
    assert "rule 'never' is unreachable" in out  # the lint finding...
    assert "FAIL " in out  # ...and the failing test, in the same run
    assert "wrong expectation" in out


def test_a_split_under_a_shared_cache_is_reported(tmp_path: Path) -> None:
    _, out = check(
        tmp_path,
        """\
        policies:
          main:
            default: true
            cache: {mode: "on", ttl_s: 60}
            rules:
              - {name: ab, candidates: [small, big], split: {small: 50, big: 50}}
        """,
    )
    assert "rule 'ab' splits traffic in a policy whose cache is on" in out
