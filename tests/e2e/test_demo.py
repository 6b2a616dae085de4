"""`router demo`: the shipped policies on emulated providers, offline, no keys, through the
official openai SDK; the README's example runs against it and routes as its comments say."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {  # every policy of every shipped file (routing.yaml, claude-code.yaml, ...)
    name: policy
    for file in sorted((REPO / "policies").glob("*.yaml"))
    for name, policy in (yaml.safe_load(file.read_text()).get("policies") or {}).items()
}


@dataclass
class Demo:
    base_url: str
    banner: str


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "ROUTER_MASTER_KEY"}


def _read_until(proc: subprocess.Popen[str], marker: str, timeout_s: float = 60) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"no {marker!r} in:\n{''.join(lines)}")


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with subprocess.Popen(
        [sys.executable, "-m", "router.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        cwd=REPO,
    ) as proc:
        try:
            banner = _read_until(proc, "Press Ctrl-C")
            found = re.search(r"base_url = (http://\S+)", banner)
            assert found, banner
            yield Demo(found.group(1), banner)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0


def _client(demo: Demo) -> openai.OpenAI:
    return openai.OpenAI(base_url=demo.base_url, api_key="not-needed", max_retries=0)


def test_a_code_prompt_through_auto_is_answered_by_mai_code_1_flash(demo: Demo) -> None:
    raw = _client(demo).chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Write a function that reverses a list"}],
    )
    assert raw.parse().model == "mai-code-1-flash"
    assert raw.headers["x-router-policy"] == "coding"
    assert raw.headers["x-router-deployment"] == "mai-code-1-flash@azure_ai"  # the shipped name
    assert "task=code" in raw.headers["x-router-reason"]


def test_a_general_prompt_goes_to_the_cheapest_model_above_the_floor(demo: Demo) -> None:
    raw = _client(demo).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Suggest a name for a cat."}]
    )
    # mai-code-1-flash is cheaper but its general quality (0.60) is under the 0.75 floor.
    assert raw.parse().model == "gpt-4o"
    assert "coding/general" in raw.headers["x-router-reason"]
    assert float(raw.headers["x-router-cost-usd"]) > 0


def test_the_banner_says_what_was_rewritten_and_shows_routing(demo: Demo) -> None:
    banner = demo.banner
    assert "rewritten" in banner
    for name in ("mai-code-1-flash@azure_ai", "mai-code-1-flash@compat", "gpt-4o@azure"):
        assert re.search(rf"{re.escape(name)} +-> \w+ emulator", banner), banner
    assert "was https://api.openai.com/v1" in banner
    tour = banner[banner.index('through model "auto"') :]
    code, general = tour.split("'Suggest a name for a cat.'")
    assert "-> mai-code-1-flash" in code
    assert "x-router-deployment: mai-code-1-flash@azure_ai" in code
    assert "-> gpt-4o" in general
    assert "x-router-reason: coding/general" in general


@pytest.mark.parametrize("model", ["auto", *sorted(SHIPPED), "budget"])
def test_every_shipped_policy_answers(demo: Demo, model: str) -> None:
    client = _client(demo)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hello there"}]
    )
    assert reply.choices[0].message.content
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hello again"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _readme_python() -> str:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    [example] = [b for b in blocks if "OpenAI(base_url=" in b]
    return example


def test_the_readme_example_routes_as_its_comments_say(demo: Demo) -> None:
    source = _readme_python()
    expected = re.findall(r"^print\(.*\)\s+#\s*(\S+?):", source, re.M)
    assert len(expected) >= 2, source  # each print says what it prints
    runnable = re.sub(r'base_url="[^"]*"', f'base_url="{demo.base_url}"', source)
    runnable = re.sub(r'api_key="[^"]*"', 'api_key="not-needed"', runnable)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(runnable, "README.md", "exec"), {})
    assert printed.getvalue().split() == expected


def test_traffic_sends_a_mixed_workload_and_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "demo", "--port", "0", "--traffic", "12"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12/12" in done.stderr  # the progress bar reached the end
    table = done.stdout[done.stdout.index("model ") :]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line.strip()}
    assert int(rows["total"][0]) == 12
    # code and the cached repeats went to MAI-Code-1-Flash, general to gpt-4o, reasoning to
    # Claude: the mix's three classes each reached their rule's model.
    assert {"mai-code-1-flash", "gpt-4o", "claude-sonnet"} <= rows.keys()
    assert float(rows["total"][1]) > 0  # cost, read from router's own /metrics
    assert "savings vs the baseline (gpt-4o)" in table
    hits = re.search(r"cache hits: (\d+) of (\d+)", table)
    assert hits, table
    assert int(hits.group(1)) >= 1  # the cached repeat was answered from the cache
    assert hits.group(2) == "2"
    assert "errors: 0" in table
