"""The Dockerfile and the compose demo, exercised without Docker.

Follows the Dockerfile's instructions in a temp dir (``uv sync --frozen --no-dev`` into a
fresh venv from the repo's lock), then starts the compose demo's router from that venv with
its own command (``router demo`` on the image's ``policies/``), remapped to a free loopback
port. Checks the image's HEALTHCHECK probe, one chat completion through ``auto`` answered by
MAI-Code-1-Flash, and that ``/metrics`` counted it: the runtime image (no dev dependencies)
has everything the demo needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_deploy_files import dockerfile_instructions, healthcheck_command

from support.metrics import REPO, find_tool, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

STARTUP_S = 60.0


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for kind, args in dockerfile_instructions():
        if kind == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((kind, args))
    return stages


def _apply_env(args: str, env: dict[str, str], app: Path) -> None:
    for key, value in re.findall(r"(\w+)=(\S+)", args):
        value = value.replace("$PATH", env.get("PATH", "")).replace("/app", str(app))
        env[key] = value


def _build(app: Path) -> dict[str, str]:
    """Run the builder and runtime stages' file and uv steps; return the runtime env."""
    uv = find_tool("uv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    env["UV_PYTHON"] = sys.executable  # the image's python:3.11; here, the test's 3.11
    builder, runtime = _stages()
    for kind, args in builder:
        if kind == "ENV":
            _apply_env(args, env, app)
        elif kind == "COPY":
            *sources, _ = args.split()
            for source in sources:
                shutil.copy2(REPO / source, app / source) if (REPO / source).is_file() else (
                    shutil.copytree(REPO / source, app / source, dirs_exist_ok=True)
                )
        elif kind == "RUN" and args.startswith("uv "):
            command = [uv, *args.split()[1:]]
            done = subprocess.run(
                command, cwd=app, env=env, capture_output=True, text=True, timeout=800, check=False
            )
            assert done.returncode == 0, f"{args}\n{done.stderr[-4000:]}"
    for kind, args in runtime:
        if kind == "ENV":
            _apply_env(args, env, app)
        elif kind == "COPY" and not args.startswith("--from"):
            source = args.split()[0]
            if (REPO / source).exists():
                shutil.copytree(REPO / source, app / source, dirs_exist_ok=True)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("PYTHONPATH", None)  # the venv alone must be enough, as in the image
    return env


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # something answered
        except OSError:
            pass
        assert time.monotonic() < deadline, f"port {port} never opened:\n{log.read_text()}"
        time.sleep(0.3)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _remap(command: list[str], app: Path, ports: dict[str, int]) -> list[str]:
    out = []
    for arg in command:
        arg = arg.replace("/app", str(app)).replace("0.0.0.0", "127.0.0.1")
        out.append(str(ports.get(arg, arg)))
    return out


def test_image_steps_then_compose_demo_serves_and_counts(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    if not (REPO / "src" / "router" / "cli.py").exists():
        pytest.skip("router.cli (router serve) is not in this checkout yet")
    app = tmp_path / "app"
    app.mkdir()
    env = _build(app)
    venv_bin = app / ".venv" / "bin"
    assert (venv_bin / "router").exists(), "uv sync did not install the router script"

    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    ports = {"8080": free_port()}

    def start(name: str, command: list[str], extra_env: dict[str, str]) -> None:
        log = tmp_path / f"{name}.log"
        with log.open("w") as sink:
            proc = subprocess.Popen(
                _remap(command, app, ports),
                cwd=app,
                env={**env, **extra_env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        processes.append(proc)
        port = next(int(v) for k, v in ports.items() if k in command)
        _wait_for_port(port, proc, log)

    demo = services["router-demo"]
    # Compose's ${NAME:-default} with nothing set on the host: the default.
    demo_env = {
        k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", v)
        for k, v in demo["environment"].items()
        if k != "REDIS_URL"
    }
    start("router-demo", demo["command"], demo_env)
    router_port = ports["8080"]

    # The image's HEALTHCHECK, verbatim but for the port.
    probe = healthcheck_command()
    probe[-1] = probe[-1].replace(":8080/", f":{router_port}/")
    done = subprocess.run([str(venv_bin / probe[0]), *probe[1:]], env=env, timeout=30, check=False)
    assert done.returncode == 0

    request = urllib.request.Request(
        f"http://127.0.0.1:{router_port}/v1/chat/completions",
        data=json.dumps(
            {
                "model": "auto",
                "messages": [{"role": "user", "content": "Write a function that reverses a list"}],
            }
        ).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.load(response)
    assert reply["choices"][0]["message"]["content"]
    assert reply["model"] == "mai-code-1-flash"

    with urllib.request.urlopen(f"http://127.0.0.1:{router_port}/metrics", timeout=10) as r:
        body = r.read().decode()
    # The demo's own two requests plus ours: MAI-Code-1-Flash answered at least twice.
    served = re.search(
        r'^router_requests_total\{[^}]*model="mai-code-1-flash"[^}]*\} (\S+)$', body, re.M
    )
    assert served, body[:3000]
    assert float(served.group(1)) >= 2
