"""``python -m router.emulators`` runs one emulator standalone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

import router.emulators

SRC = Path(router.emulators.__file__).resolve().parents[2]


def test_cli_serves_until_sigterm() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router.emulators",
            "--provider",
            "anthropic",
            "--port",
            "0",
            "--api-key",
            "cli-key",
            "--default-behaviour",
            '{"reply": "from cli"}',
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "anthropic emulator listening on http://127.0.0.1:" in banner
        base = banner.split(" on ")[1].split(" ")[0]
        response = httpx.post(
            f"{base}/v1/messages",
            headers={"x-api-key": "cli-key", "anthropic-version": "2023-06-01"},
            json={
                "model": "claude-sonnet-4-5",
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        assert response.json()["content"][0]["text"] == "from cli"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()
