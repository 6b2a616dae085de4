"""The Dockerfile and the compose demo, exercised without Docker.

Follows the Dockerfile's instructions in a temp dir (``uv sync --frozen --no-dev`` into a
fresh venv from the repo's lock), then starts the compose demo's processes from that venv
with their own commands, remapped to free loopback ports: the four emulators and
``router serve`` on ``deploy/demo/router.yaml``. Checks the image's HEALTHCHECK probe, one
chat completion, and that ``/metrics`` counted it.
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
from metrics_support import REPO, find_tool, free_port
from test_deploy_files import dockerfile_instructions, healthcheck_command

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
    demo_config = (REPO / "deploy" / "demo" / "router.yaml").read_text()
    ports = {str(p): free_port() for p in (8080, 9001, 9002, 9003, 9004)}
    # Compose resolves service names; here every service is on loopback.
    for name in ("openai", "azure", "foundry", "anthropic"):
        demo_config = re.sub(
            rf"http://emulator-{name}:(\d+)",
            lambda m: f"http://127.0.0.1:{ports[m.group(1)]}",
            demo_config,
        )
    (app / "demo").mkdir()
    (app / "demo" / "router.yaml").write_text(demo_config)

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

    for name in ("openai", "azure", "foundry", "anthropic"):
        start(f"emulator-{name}", services[f"emulator-{name}"]["command"], {})
    demo = services["router-demo"]
    demo_env = {k: v for k, v in demo["environment"].items() if k != "REDIS_URL"}
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
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
        ).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.load(response)
    assert reply["choices"][0]["message"]["content"]

    with urllib.request.urlopen(f"http://127.0.0.1:{router_port}/metrics", timeout=10) as r:
        body = r.read().decode()
    assert re.search(r'^router_requests_total\{[^}]*model="gpt-4o"[^}]*\} 1\.0$', body, re.M), body[
        :3000
    ]
