"""`router demo`: offline, no keys, answers the openai SDK for all three providers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import openai


def test_demo_serves_every_provider() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROUTER_MASTER_KEY"}
    with subprocess.Popen(
        [sys.executable, "-m", "router.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as proc:
        _drive(proc)
    assert proc.returncode == 0


def _drive(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        base_url = None
        deadline = time.monotonic() + 60
        lines = []
        while base_url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"base_url = (http://\S+)", line)
            base_url = found.group(1) if found else None
        assert base_url, "".join(lines)
        banner = "".join(lines)
        client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
        for model in ("mai-code-1-flash", "gpt-4o", "claude-sonnet"):
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hello"}]
            )
            assert reply.model == model
            assert reply.choices[0].message.content
        rest = "".join(proc.stdout.readline() for _ in range(6))
        assert "curl" in banner + rest
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
