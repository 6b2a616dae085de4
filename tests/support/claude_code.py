"""Claude Code (the pinned ``@anthropic-ai/claude-code`` npm package) as a test client.

``.ci/run`` installs it with ``npm ci --prefix tests/clients``. It runs offline against a base
URL: every model call goes to ``$ANTHROPIC_BASE_URL/v1/messages?beta=true`` with ``x-api-key``,
``anthropic-version`` and several ``anthropic-beta`` values, as a stream. Each run gets a fresh
HOME and working directory, so no user settings, sessions or credentials leak in or out, and
the environment turns off everything that would phone home (telemetry, error reports, update
checks): the only traffic left is to the base URL, which is loopback.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLIENTS = Path(__file__).resolve().parent.parent / "clients"
BINARY = CLIENTS / "node_modules" / ".bin" / "claude"
RUN_TIMEOUT_S = 60  # one print-mode run takes about a second against the emulators


def require_claude_code() -> Path:
    """The ``claude`` binary; skips only where node itself is missing, fails otherwise.

    A machine with node but without the package is a broken setup, not a reason to skip:
    the proof that Claude Code works through router must not silently disappear in CI.
    """
    if shutil.which("node") is None:
        pytest.skip("node is not installed (.ci/run installs nodejs and npm)")
    if not BINARY.exists():
        _install()
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: run `npm ci --prefix tests/clients`")
    return BINARY


def _install() -> None:
    """``npm ci`` of the pinned package, so the README's ``uv run pytest`` needs no extra step.

    Under an exclusive lock: parallel test processes must not run two installs into one tree.
    """
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: install nodejs and npm (.ci/run does)")
    with (CLIENTS / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if BINARY.exists():
            return
        done = subprocess.run(
            [npm, "ci", "--prefix", str(CLIENTS), "--no-audit", "--no-fund", "--loglevel=error"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"`npm ci --prefix tests/clients` failed:\n{done.stderr[-2000:]}")


@dataclass(frozen=True)
class ClaudeRun:
    returncode: int
    stdout: str
    stderr: str

    def result(self) -> dict[str, Any]:
        """The final ``--output-format json`` record."""
        parsed = json.loads(self.stdout)
        assert isinstance(parsed, dict), self.stdout
        return parsed


def run_claude(
    home: Path,
    base_url: str,
    api_key: str,
    prompt: str,
    *args: str,
    environ: dict[str, str] | None = None,
) -> ClaudeRun:
    """``claude -p PROMPT ARGS...`` with ``home`` as HOME and ``home/work`` as its directory;
    ``environ`` adds to (or replaces) the offline environment below."""
    binary = require_claude_code()
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
        # Fail fast: Claude Code retries errors (401 included) with backoff for minutes, which
        # would turn a router bug into a slow timeout instead of the error it printed.
        "CLAUDE_CODE_MAX_RETRIES": "0",
        **(environ or {}),
    }
    done = subprocess.run(
        [str(binary), "-p", prompt, "--no-session-persistence", *args],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    return ClaudeRun(done.returncode, done.stdout, done.stderr)
