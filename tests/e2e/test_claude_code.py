"""Claude Code's print mode, the real client, through router to each of the three models.

Claude Code speaks only Anthropic's Messages API (``POST /v1/messages?beta=true``, streamed,
``x-api-key``, several ``anthropic-beta`` values, thinking and effort settings, a system prompt
in cache-controlled blocks). Router answers it natively from Claude and by translation from
GPT-4o and MAI-Code-1-Flash. The emulators' answers are deterministic ("Answer from <upstream
model>: ..."), so the text Claude Code prints says which upstream answered.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from router.demo.emulate import emulate
from support.claude_code import ClaudeRun, require_claude_code, run_claude
from support.routing import metric, scrape
from support.stack import Emulators, RouterFactory, RunningRouter

REPO = Path(__file__).resolve().parents[2]

KEY = "sk-router-claude-code"  # Claude Code sends it as x-api-key

# Claude Code asks for Claude model ids of its own (plain `claude` sends claude-opus-5-5 with
# the pinned version, `--model sonnet` claude-sonnet-5-5); the policy whose alias pattern takes
# them decides who answers: turns that carry tools go to Claude, plain turns to
# MAI-Code-1-Flash. Router's own names (`--model gpt-4o`) still go straight to that model.
POLICIES = """\
policies:
  claude-code:
    aliases: ["claude-*"]
    rules:
      - name: agent-turns
        when: {tools: true}
        candidates: [claude-sonnet]
      - name: plain-turns
        candidates: [mai-code-1-flash]
"""

# router model -> (the emulator that serves it, the model name that emulator sees)
UPSTREAMS = {
    "claude-sonnet": ("anthropic", "claude-sonnet-4-5"),
    "gpt-4o": ("openai", "gpt-4o"),
    "mai-code-1-flash": ("foundry", "MAI-Code-1-Flash"),
}


@pytest.fixture(autouse=True)
def _claude_code() -> None:
    require_claude_code()


@pytest.fixture
def router(start_router: RouterFactory, config_dir: Path) -> RunningRouter:
    (config_dir / "policies.yaml").write_text(POLICIES, encoding="utf-8")
    return start_router(config_dir, environ={**os.environ, "ROUTER_MASTER_KEY": KEY})


def _claude(
    home: Path, router: RunningRouter, model: str | None, prompt: str, *args: str
) -> ClaudeRun:
    """``claude -p PROMPT [--model MODEL] ARGS...``; no model: Claude Code's default."""
    chosen = ("--model", model) if model is not None else ()
    return run_claude(home, router.base_url, KEY, prompt, *chosen, *args)


TEXT_ONLY = ("--tools", "")  # no tools: the models answer in text
READ_TOOL = ("--tools", "Read", "--output-format", "json")  # one read-only tool, JSON result


def _served(emulators: Emulators, provider: str) -> list[str]:
    """Paths of the model calls one emulator answered, oldest first."""
    emulator = getattr(emulators, provider)
    return [r.path for r in emulator.requests if r.status == 200]


@pytest.mark.parametrize("model", list(UPSTREAMS))
def test_print_mode_answers_from_each_model(
    router: RunningRouter, emulators: Emulators, tmp_path: Path, model: str
) -> None:
    provider, upstream_model = UPSTREAMS[model]
    run = _claude(tmp_path, router, model, "write hello world", *TEXT_ONLY)
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith(f"Answer from {upstream_model}: "), run.stdout
    assert _served(emulators, provider), f"{provider} emulator answered nothing"
    others = {p for p, _ in UPSTREAMS.values()} - {provider}
    assert not any(_served(emulators, other) for other in others)


def test_native_claude_gets_claude_codes_request_as_sent(
    router: RunningRouter, emulators: Emulators, tmp_path: Path
) -> None:
    run = _claude(tmp_path, router, "claude-sonnet", "hello", *TEXT_ONLY)
    assert run.returncode == 0, run.stderr + run.stdout
    # Claude Code's first request puts a system turn inside `messages` (a beta); router refuses
    # it in Anthropic's words before any upstream call, and Claude Code asks again without it.
    assert [r.status for r in emulators.anthropic.requests] == [200]
    sent = emulators.anthropic.requests[0]
    assert [turn["role"] for turn in sent.body["messages"]] == ["user"]
    assert sent.path == "/v1/messages"
    assert sent.body["model"] == "claude-sonnet-4-5"
    assert sent.body["stream"] is True
    # The system prompt keeps its blocks and their prompt-caching marks.
    system = sent.body["system"]
    assert isinstance(system, list)
    assert any(block.get("cache_control") == {"type": "ephemeral"} for block in system)
    assert sent.header("anthropic-version") == "2023-06-01"
    assert sent.header("x-api-key") != KEY  # the deployment's key, never the client's


@pytest.mark.parametrize("model", list(UPSTREAMS))
def test_tool_round_trip(
    router: RunningRouter, emulators: Emulators, tmp_path: Path, model: str
) -> None:
    """The model asks for Claude Code's Read tool, Claude Code runs it and sends the result
    back, and the model answers from it: tool use streamed out, tool result translated in."""
    _, upstream_model = UPSTREAMS[model]
    run = _claude(tmp_path, router, model, "look at a file", *READ_TOOL)
    assert run.returncode == 0, run.stderr + run.stdout
    result = run.result()
    assert result["is_error"] is False, result
    assert result["num_turns"] == 2, result  # the tool call, then the answer
    # Read was asked for a file that does not exist; the model quotes the tool's answer.
    assert result["result"].startswith(
        f"Answer from {upstream_model} using tool result: File does not exist."
    ), result["result"]


def test_policy_routes_claude_codes_turns(
    router: RunningRouter, emulators: Emulators, tmp_path: Path
) -> None:
    plain = _claude(tmp_path, router, None, "hello", *TEXT_ONLY)  # Claude Code's default model
    assert plain.returncode == 0, plain.stderr + plain.stdout
    assert plain.stdout.startswith("Answer from MAI-Code-1-Flash: "), plain.stdout

    agent = _claude(tmp_path, router, "sonnet", "look at a file", *READ_TOOL)
    assert agent.returncode == 0, agent.stderr + agent.stdout
    assert agent.result()["result"].startswith("Answer from claude-sonnet-4-5 using tool result:")
    assert _served(emulators, "foundry")
    assert _served(emulators, "anthropic")
    assert not _served(emulators, "openai")


# Each model id Claude Code sends by itself, as an exact alias of its own policy (no pattern),
# each policy answered by a different model: an id other than these would be refused as an
# unknown model, and the printed answer names which policy took the turn. docs/claude-code.md
# and docs/anthropic.md name these ids.
OWN_IDS = """\
policies:
  opus-id:
    aliases: [claude-opus-5-5]
    rules: [{name: all, candidates: [claude-sonnet]}]
  sonnet-id:
    aliases: [claude-sonnet-5-5]
    rules: [{name: all, candidates: [gpt-4o]}]
  haiku-id:
    aliases: [claude-haiku-5-5]
    rules: [{name: all, candidates: [mai-code-1-flash]}]
"""


@pytest.mark.parametrize(
    ("choice", "answered_by"),
    [(None, "claude-sonnet-4-5"), ("sonnet", "gpt-4o"), ("haiku", "MAI-Code-1-Flash")],
    ids=["default-opus", "sonnet", "haiku"],
)
def test_claude_codes_own_model_ids(
    start_router: RouterFactory,
    config_dir: Path,
    tmp_path: Path,
    choice: str | None,
    answered_by: str,
) -> None:
    (config_dir / "policies.yaml").write_text(OWN_IDS, encoding="utf-8")
    router = start_router(config_dir, environ={**os.environ, "ROUTER_MASTER_KEY": KEY})
    run = _claude(tmp_path, router, choice, "hello", *TEXT_ONLY)
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith(f"Answer from {answered_by}: "), run.stdout


def test_wrong_key_is_refused_in_anthropics_shape(router: RunningRouter, tmp_path: Path) -> None:
    run = run_claude(
        tmp_path, router.base_url, "sk-wrong", "hello", "--model", "gpt-4o", *TEXT_ONLY
    )
    assert run.returncode != 0
    # Claude Code prints the API's status and Anthropic-shaped error message.
    assert "401" in run.stdout + run.stderr, run.stdout + run.stderr


# -- the shipped policies/ -------------------------------------------------------------------
# policies/claude-code.yaml as shipped (every deployment moved onto the emulators, as `router
# demo` does): Claude Code's own ids are taken by its alias patterns, easy coding turns go to
# MAI-Code-1-Flash and long ones to Claude. Each turn's decision is read back from router's
# metrics (policy, rule, model), and the answer's text says which upstream wrote it.

CODING_ASK = "write a python function that reverses a list"


@pytest.fixture
def shipped(start_router: RouterFactory, emulators: Emulators, tmp_path: Path) -> RunningRouter:
    directory = tmp_path / "shipped"
    emulate(REPO / "policies", directory, emulators.endpoints)
    return start_router(directory, environ={**os.environ, "ROUTER_MASTER_KEY": KEY})


def _decisions(router: RunningRouter, policy: str) -> dict[tuple[str, str], float]:
    """(rule, model) -> routing decisions so far, for one policy."""
    text = scrape(router)
    name = "router_routing_decisions_total"
    counts = {
        (rule, model): metric(text, name, policy=policy, rule=rule, model=model)
        for rule in ("easy", "hard", "flash")
        for model in UPSTREAMS
    }
    return {key: got for key, got in counts.items() if got}


def test_shipped_policy_sends_an_easy_coding_turn_to_mai_code_1_flash(
    shipped: RunningRouter, emulators: Emulators, tmp_path: Path
) -> None:
    run = _claude(tmp_path, shipped, None, CODING_ASK, *TEXT_ONLY)  # claude-opus-5-5
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith("Answer from MAI-Code-1-Flash: "), run.stdout
    assert _decisions(shipped, "claude-code") == {("easy", "mai-code-1-flash"): 1}
    assert _served(emulators, "foundry")
    assert not _served(emulators, "anthropic")


def test_shipped_policy_keeps_a_tool_loop_on_mai_code_1_flash(
    shipped: RunningRouter, emulators: Emulators, tmp_path: Path
) -> None:
    """--model sonnet with Claude Code's Read tool: both turns of the loop (the tool call,
    then the answer from its result) are easy and go to MAI-Code-1-Flash."""
    run = _claude(tmp_path, shipped, "sonnet", "fix the bug in main.py", *READ_TOOL)
    assert run.returncode == 0, run.stderr + run.stdout
    result = run.result()
    assert result["num_turns"] == 2, result
    assert result["result"].startswith("Answer from MAI-Code-1-Flash using tool result:"), result
    assert _decisions(shipped, "claude-code") == {("easy", "mai-code-1-flash"): 2}
    assert not _served(emulators, "anthropic")


def test_shipped_policy_sends_a_large_context_to_claude(
    shipped: RunningRouter, emulators: Emulators, tmp_path: Path
) -> None:
    """The same ask in a project whose CLAUDE.md (which Claude Code puts in every prompt) is
    about 40k tokens: past the easy rule's 30k bound, so Claude answers."""
    notes = "The storage layer appends every record to a write-ahead log before applying it. "
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "CLAUDE.md").write_text("# Project notes\n" + notes * 2000)
    run = _claude(tmp_path, shipped, None, CODING_ASK, *TEXT_ONLY)
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith("Answer from claude-sonnet-4-5: "), run.stdout
    assert _decisions(shipped, "claude-code") == {("hard", "claude-sonnet"): 1}
    assert not _served(emulators, "foundry")


def test_shipped_policy_sends_the_small_model_slot_to_mai_code_1_flash(
    shipped: RunningRouter, tmp_path: Path
) -> None:
    run = _claude(tmp_path, shipped, "haiku", "hello", *TEXT_ONLY)  # claude-haiku-5-5
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith("Answer from MAI-Code-1-Flash: "), run.stdout
    assert _decisions(shipped, "claude-code-small") == {("flash", "mai-code-1-flash"): 1}
    assert _decisions(shipped, "claude-code") == {}


def test_default_model_variables_replace_claude_codes_ids(
    shipped: RunningRouter, tmp_path: Path
) -> None:
    """ANTHROPIC_DEFAULT_SONNET_MODEL replaces the id --model sonnet sends, so a router name
    (here a logical model, routed direct) takes the turn instead of the claude-* policy."""
    run = run_claude(
        tmp_path, shipped.base_url, KEY, "hello", "--model", "sonnet", *TEXT_ONLY,
        environ={"ANTHROPIC_DEFAULT_SONNET_MODEL": "gpt-4o"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith("Answer from gpt-4o: "), run.stdout
    decisions = scrape(shipped)
    assert metric(decisions, "router_routing_decisions_total", policy="direct", model="gpt-4o") == 1
    assert _decisions(shipped, "claude-code") == {}
