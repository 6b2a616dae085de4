"""``router serve | demo | eval | train | replay | check | explain | keys``: the command line.

Every command and option has help text, and ``--help`` shows each default. This module parses
and hands each command to what runs it: ``commands`` (serve, demo, keys, spend) or the package
that owns the work.

Each subcommand imports what it needs when it runs, so ``router check`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from router import commands
from router.logs import FORMATS
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return commands.serve(
            args.config, args.host, args.port, args.workers, commands.log_settings(args)
        )
    if args.command == "demo":
        return commands.demo(args)
    if args.command == "keys":
        return commands.keys_create(args.name, args.team, tuple(args.tag), args.expires)
    if args.command == "spend":
        return commands.spend(args.url, args.key, args.start, args.end, args.by, as_json=args.json)
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
