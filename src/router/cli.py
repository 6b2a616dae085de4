"""``router serve | demo | eval | train | replay | check | explain | keys``: the command line.

Every command and option has help text, and ``--help`` shows each default.

Each subcommand imports what it needs when it runs, so ``router check`` starts fast.
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
from collections.abc import Sequence
from pathlib import Path

from router.logs import FORMATS, LogFormat, LogSettings, configure
from router.settings import Settings


def _parser() -> argparse.ArgumentParser:
    env = Settings.from_env()
    defaults = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="router", description="Policy-routing LLM gateway", formatter_class=defaults
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=defaults)

    serve = command("serve", "run the OpenAI-compatible gateway")
    serve.add_argument(
        "--config", default=env.config_path, help="YAML file or directory (env ROUTER_CONFIG)"
    )
    serve.add_argument("--host", default=env.host, help="address to listen on (env ROUTER_HOST)")
    serve.add_argument(
        "--port", type=int, default=env.port, help="port to listen on (env ROUTER_PORT)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=env.workers,
        help="worker processes; metrics add up across them (env ROUTER_WORKERS)",
    )
    _log_options(serve, env)

    demo = command(
        "demo",
        "the shipped policies on emulated providers, offline, no keys; prints two routed "
        "requests and a snippet to try",
    )
    demo.add_argument(
        "--config",
        default=env.config_path,
        help="policies to run; every deployment is rewritten to a local emulator",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free)")
    demo.add_argument(
        "--traffic",
        type=int,
        default=0,
        metavar="N",
        help="send N mixed sample requests (at most 10000), print what they cost, and stop",
    )
    # People watch the demo: text lines by default, and no access lines under --traffic (the
    # closing table sums them up) unless --access-log asks for them.
    _log_options(demo, env, log_format="text", access_log=None)
    demo.add_argument(
        "--url",
        default=None,
        help="with --traffic: send it to this running router's base_url (e.g. the compose "
        "demo, http://127.0.0.1:8081/v1) instead of starting one",
    )

    evaluate = command("eval", "policies against labelled outcome data, offline (docs/quality.md)")
    evaluate.add_argument("dataset", type=Path, help="RouteLLM data directory or .jsonl file")
    evaluate.add_argument("--config", default=env.config_path, help="YAML file or directory")
    evaluate.add_argument(
        "-o", "--out", type=Path, default=Path("eval-out"), help="eval.json and the PNG go here"
    )
    evaluate.add_argument(
        "--split",
        choices=("test", "train", "all"),
        default="test",
        help="held-out prompts, training prompts, or all",
    )
    evaluate.add_argument("--sample", type=int, help="a fixed sample of this many prompts")
    evaluate.add_argument("--seed", type=int, default=14, help="hold-out and sample seed")
    evaluate.add_argument("--policy", action="append", help="only these policies")
    evaluate.add_argument(
        "--write-quality",
        type=Path,
        metavar="CATALOG_YAML",
        help="write measured per-task quality into this catalog file",
    )

    train = command("train", "fit the learned difficulty signal on outcome data")
    train.add_argument("dataset", type=Path, help="RouteLLM data directory or .jsonl file")
    train.add_argument("-o", "--out", type=Path, required=True, help="the exported JSON")
    train.add_argument("--seed", type=int, default=14, help="hold-out seed")

    replay = command(
        "replay",
        "logged requests through a candidate config, offline: what would change "
        "(docs/requestlog.md)",
    )
    replay.add_argument(
        "log",
        help="request log: a JSONL file (its rotated files are read too) or a Redis URL "
        "redis://HOST:PORT/DB?stream=KEY",
    )
    replay.add_argument(
        "--config", default=env.config_path, help="the candidate config: YAML file or directory"
    )
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.add_argument("--examples", type=int, default=3, help="examples per group of changes")
    replay.add_argument("--seed", type=int, default=0, help="seed of the rolls for weighted splits")

    check = command("check", "validate policies and run their test cases")
    check.add_argument(
        "path", nargs="?", default=env.config_path, help="YAML file or directory to check"
    )

    explain = command("explain", "show the routing decision for a request (no upstream call)")
    explain.add_argument("--config", default=env.config_path, help="YAML file or directory")
    explain.add_argument(
        "args",
        nargs="+",
        metavar="[PATH] REQUEST",
        help="optional config path (else --config), then chat request JSON, @file, or -",
    )
    explain.add_argument(
        "-H", "--header", action="append", default=[], help="'name: value' request header"
    )
    keys = command("keys", "client keys for config's auth.keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    text = "print a new random key once, and the YAML entry with its hash"
    create = keys_sub.add_parser("create", help=text, description=text, formatter_class=defaults)
    create.add_argument("--name", required=True, help="the key's name (in logs and metrics)")
    create.add_argument("--team", help="team the key belongs to (policies can select on it)")
    create.add_argument("--tag", action="append", default=[], help="a tag; repeatable")
    create.add_argument("--expires", help="ISO date or time (UTC unless a zone is given)")
    spend = command("spend", "where the money went: spend by team, key, model and day")
    spend.add_argument(
        "--url", default=f"http://127.0.0.1:{env.port}", help="the running router's base URL"
    )
    spend.add_argument(
        "--key",
        default=None,
        help="API key (default: env ROUTER_MASTER_KEY; a client key sees its own spend)",
    )
    spend.add_argument("--from", dest="start", help="first UTC day, YYYY-MM-DD (default: 29 "
                       "days before --to)")  # fmt: skip
    spend.add_argument("--to", dest="end", help="last UTC day, YYYY-MM-DD (default: today)")
    spend.add_argument(
        "--by", default="team,key,model,day", help="columns to keep: team, key, model, day"
    )
    spend.add_argument("--json", action="store_true", help="print the JSON answer as is")
    return parser


def _log_options(
    parser: argparse.ArgumentParser,
    env: Settings,
    *,
    log_format: str | None = None,
    access_log: bool | None = True,
) -> None:
    parser.add_argument(
        "--log-level",
        default=env.log_level,
        choices=("debug", "info", "warning", "error"),
        help="lowest level logged (env ROUTER_LOG_LEVEL)",
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("ROUTER_LOG_FORMAT", log_format or env.log_format),
        choices=FORMATS,
        help="json: one object per line, for machines; text: for people (env ROUTER_LOG_FORMAT)",
    )
    parser.add_argument(
        "--access-log",
        default=env.access_log if access_log else None,
        action=argparse.BooleanOptionalAction,
        help="one line per request on the router.access logger (env ROUTER_ACCESS_LOG=on|off)"
        + ("" if access_log else "; none: on, but off under --traffic"),
    )
    parser.add_argument(
        "--log-prompts",
        default=env.log_prompts,
        action=argparse.BooleanOptionalAction,
        help="put the last user message's text in access lines; off, prompts are never "
        "logged (env ROUTER_LOG_PROMPTS)",
    )


def _log_settings(args: argparse.Namespace) -> LogSettings:
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args.config, args.host, args.port, args.workers, _log_settings(args))
    if args.command == "demo":
        return demo(args)
    if args.command == "keys":
        return _keys_create(args.name, args.team, tuple(args.tag), args.expires)
    if args.command == "spend":
        return _spend(args.url, args.key, args.start, args.end, args.by, as_json=args.json)
    if args.command == "check":
        from router.config.check import check_main

        return check_main(Path(args.path), sys.stdout)
    if args.command == "eval":
        from router.quality.commands import eval_main

        return eval_main(
            args.dataset, Path(args.config), args.out, sys.stdout, sys.stderr,
            split=args.split, size=args.sample, seed=args.seed, policies=args.policy,
            write_quality=args.write_quality,
        )  # fmt: skip
    if args.command == "replay":
        from router.requestlog.command import replay_main

        return replay_main(
            args.log, Path(args.config), sys.stdout, sys.stderr,
            as_json=args.json, seed=args.seed, examples=args.examples,
        )  # fmt: skip
    if args.command == "train":
        from router.quality.commands import train_main

        return train_main(args.dataset, args.out, sys.stdout, seed=args.seed)
    if args.command == "explain":
        from router.config.check import explain_main

        headers = dict(_split_header(h) for h in args.header)
        if len(args.args) > 2:
            print("router explain: expected [PATH] REQUEST", file=sys.stderr)
            return 2
        path = args.args[0] if len(args.args) == 2 else args.config
        request = _read_request(args.args[-1])
        return explain_main(Path(path), request, headers, sys.stdout)
    return 2


def _keys_create(name: str, team: str | None, tags: tuple[str, ...], expires: str | None) -> int:
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


def _spend(
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

    logs = _log_settings(args)
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


def _split_header(raw: str) -> tuple[str, str]:
    name, _, value = raw.partition(":")
    return name.strip().lower(), value.strip()


def _read_request(raw: str) -> str:
    if raw == "-":
        return sys.stdin.read()
    if raw.startswith("@"):
        return Path(raw[1:]).read_text(encoding="utf-8")
    json.loads(raw)  # fail early with the parser's message
    return raw


if __name__ == "__main__":
    sys.exit(main())
