"""What ``router serve | demo | keys create | spend`` do once the command line is parsed
(``cli``): the process edge's own commands, whose work no package owns. ``router check``,
``explain``, ``eval``, ``train`` and ``replay`` run in the packages that own them.

Each command imports what it needs when it runs, so ``router check`` starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from router.logs import LogFormat, LogSettings, configure
from router.settings import Settings


def log_settings(args: argparse.Namespace) -> LogSettings:
    fmt: LogFormat = "text" if args.log_format == "text" else "json"
    access = args.access_log
    if access is None:  # router demo: on, unless a workload would flood the terminal
        access = not args.traffic and Settings.from_env().access_log
    return LogSettings(args.log_level, fmt, access, args.log_prompts)


def _export_log_settings(settings: LogSettings) -> None:
    """Workers are separate processes that read their settings from the environment."""
    os.environ["ROUTER_LOG_LEVEL"] = settings.level
    os.environ["ROUTER_LOG_FORMAT"] = settings.format
    os.environ["ROUTER_ACCESS_LOG"] = "on" if settings.access_log else "off"
    os.environ["ROUTER_LOG_PROMPTS"] = "on" if settings.prompts else "off"


def keys_create(name: str, team: str | None, tags: tuple[str, ...], expires: str | None) -> int:
    from pydantic import ValidationError

    from router.config.schema import KeySpec
    from router.tenancy.keys import key_entry_yaml, key_hash, new_key

    key = new_key()
    try:  # the entry must be one config accepts: check it the way the loader will
        KeySpec(name=name, team=team, tags=list(tags), hash=key_hash(key), expires=expires)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        print(f"router keys create: {where}: {first['msg']}", file=sys.stderr)
        return 2
    print(f"key (shown once; router stores only its hash):\n  {key}\n")
    print("add under auth.keys in your policies/ (hot-reloaded):")
    print(key_entry_yaml(name, key, team, tags, expires), end="")
    return 0


def spend(
    url: str, key: str | None, start: str | None, end: str | None, by: str, *, as_json: bool
) -> int:
    import urllib.error
    import urllib.parse
    import urllib.request

    from router.tenancy.spend import table

    query = {"group_by": by, **({"from": start} if start else {}), **({"to": end} if end else {})}
    target = f"{url.rstrip('/')}/v1/router/spend?{urllib.parse.urlencode(query)}"
    token = key or os.environ.get("ROUTER_MASTER_KEY")
    request = urllib.request.Request(  # noqa: S310 (the operator's own router)
        target, headers={"authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        print(f"router spend: {exc.code} from {target}: {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"router spend: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(body, indent=2))
        return 0
    print(f"spend {body['from']} .. {body['to']} (UTC)")
    print(table(body["rows"], body["group_by"]), end="")
    return 0


def demo(args: argparse.Namespace) -> int:
    if args.url:
        from router.demo.traffic import ProgressBar, render, run_traffic

        if args.traffic <= 0:
            print("router demo: --url needs --traffic N", file=sys.stderr)
            return 2
        key = os.environ.get("ROUTER_MASTER_KEY") or None
        report = run_traffic(args.url, key, args.traffic, ProgressBar(sys.stderr, "traffic"))
        print(render(report))
        return 0

    from router.demo.run import DemoOptions, run_demo

    logs = log_settings(args)
    _export_log_settings(logs)
    configure(logs)
    options = DemoOptions(Path(args.config), args.host, args.port, args.traffic, logs)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_demo(options))
    return 0


def serve(config: str, host: str, port: int, workers: int, logs: LogSettings) -> int:
    from uvicorn import Server
    from uvicorn.supervisors import Multiprocess

    from router.config.check import load_served
    from router.config.yamlsrc import ConfigError
    from router.serving import serve_config

    path = Path(config).resolve()
    try:
        loaded = load_served(path)  # refuse a broken config (or failing tests): file:line:col
    except ConfigError as exc:
        print(f"router: config at {path} is invalid:\n{exc}", file=sys.stderr)
        return 1
    refusal = _needs_shared_store(loaded.tenancy.counts, workers, os.environ.get("REDIS_URL"))
    if refusal:
        print(f"router: {refusal}", file=sys.stderr)
        return 1
    os.environ["ROUTER_CONFIG"] = str(path)
    _export_log_settings(logs)
    configure(logs)  # this process's own lines (uvicorn's supervisor); workers do the same
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers write metrics to files the /metrics route merges: counters add up.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="router-metrics-")
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal to the handler
    # that was installed before it: make that a clean exit, so a graceful stop exits 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    settings = serve_config(
        "router.asgi:app",
        loaded.server,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        log_level=logs.level,
        log_config=None,  # router.logs formats every line, uvicorn's included
        access_log=False,  # router's own access log carries the routing facts
        timeout_graceful_shutdown=30,
    )
    # What uvicorn.run does, with a Config that carries the connection limits.
    if workers > 1:
        Multiprocess(settings, sockets=[settings.bind_socket()]).run()
        return 0
    server = Server(settings)
    server.run()
    return 0 if server.started else 3  # uvicorn's STARTUP_FAILURE


def _needs_shared_store(counts: bool, workers: int, redis_url: str | None) -> str | None:
    """Limits and budgets are exact only when every process counts in one store: with several
    workers, each would keep its own counters in memory and admit the limit once per worker."""
    if counts and workers > 1 and not redis_url:
        return (
            f"limits or budgets are configured and --workers is {workers}, but REDIS_URL is "
            "unset: each worker would count in its own memory and admit up to the limit once "
            "per worker. Set REDIS_URL (every worker and replica then shares one count), or "
            "run one worker."
        )
    return None


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)
