"""Static checks of the deploy files: compose schema, promtool, Dockerfile shape."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from support.metrics import REPO, find_tool

COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(_compose()), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_compose_schema_really_rejects_a_broken_file() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    broken = {"services": {"router": {"image": "x", "helthcheck": {"test": ["NONE"]}}}}
    assert list(Draft7Validator(schema).iter_errors(broken))


def test_compose_services_and_profiles() -> None:
    services = _compose()["services"]
    always = {name for name, svc in services.items() if "profiles" not in svc}
    assert always == {"router", "redis", "prometheus", "grafana"}
    router = services["router"]
    assert router["build"]["dockerfile"] == "Dockerfile"
    assert router["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert "./policies:/app/policies:ro" in router["volumes"]
    # Spend and budgets live in Redis: an append-only file on a named volume keeps them.
    redis = services["redis"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in redis["volumes"]
    assert "redis-data" in _compose()["volumes"]
    demo = {name for name, svc in services.items() if "demo" in svc.get("profiles", [])}
    assert demo == {"router-demo"}
    demo_router = services["router-demo"]
    # `router demo` on the same policies: emulated providers in-process, no keys.
    assert demo_router["command"][:2] == ["router", "demo"]
    assert "/app/policies" in demo_router["command"]
    assert "./policies:/app/policies:ro" in demo_router["volumes"]
    # Every bind-mounted file or folder exists in the repository.
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), source


def test_compose_passes_the_master_key_and_log_and_trace_settings() -> None:
    services = _compose()["services"]
    router = services["router"]["environment"]
    assert router["ROUTER_MASTER_KEY"] == "${ROUTER_MASTER_KEY:-}"
    for env in (router, services["router-demo"]["environment"]):
        for name in ("ROUTER_LOG_LEVEL", "ROUTER_LOG_FORMAT", "ROUTER_ACCESS_LOG"):
            assert env[name].startswith(f"${{{name}:-"), name
        # Empty unless the host sets it: no exporter, no outbound call.
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"
        assert "OTEL_SERVICE_NAME" in env
    demo = services["router-demo"]["environment"]
    # The demo profile needs no keys: neither a master key nor any provider's.
    assert not {k for k in demo if k.endswith("_KEY")}


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = find_tool("promtool")
    config = REPO / "deploy" / "prometheus" / "prometheus.yml"
    done = subprocess.run(
        [promtool, "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in yaml.safe_load(config.read_text())["scrape_configs"]
    }
    # One job per stack, so the dashboard's job variable keeps them apart.
    assert jobs == {"router": ["router:8080"], "router-demo": ["router-demo:8080"]}


def test_dockerfile_shape() -> None:
    steps = dockerfile_instructions()
    kinds = [kind for kind, _ in steps]
    assert kinds.count("FROM") == 2, "multi-stage: builder and runtime"
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    assert "uv sync --frozen --no-dev" in runs
    final = steps[[i for i, kind in enumerate(kinds) if kind == "FROM"][-1] :]
    users = [args for kind, args in final if kind == "USER"]
    assert users, "the runtime stage must drop root"
    assert users[-1] not in {"root", "0"}
    envs = " ".join(args for kind, args in final if kind == "ENV")
    assert "LITELLM_LOCAL_MODEL_COST_MAP=True" in envs
    cmd = json.loads(next(args for kind, args in final if kind == "CMD"))
    assert cmd == [
        "router", "serve", "--config", "/app/policies", "--host", "0.0.0.0", "--port", "8080",
    ]  # fmt: skip
    copies = [args for kind, args in final if kind == "COPY"]
    assert any(c.startswith("--from=builder /app/.venv") for c in copies)
    assert not any("curl" in args for _, args in steps), "the slim image has no curl"


def healthcheck_command() -> list[str]:
    args = next(args for kind, args in dockerfile_instructions() if kind == "HEALTHCHECK")
    exec_form = args[args.index("CMD") + 3 :].strip()
    command: list[str] = json.loads(exec_form)
    return command


@pytest.fixture
def health_server() -> Iterator[tuple[int, list[int]]]:
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0] if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), status
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_healthcheck_probe_passes_on_200_and_fails_otherwise(
    health_server: tuple[int, list[int]],
) -> None:
    port, status = health_server
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "127.0.0.1:8080/healthz" in command[2]
    code = command[2].replace(":8080/", f":{port}/")

    def probe() -> int:
        return subprocess.run([sys.executable, "-c", code], timeout=30, check=False).returncode

    assert probe() == 0
    status[0] = 503
    assert probe() != 0
    assert shlex.join(command)  # stays a valid exec-form command line
