"""``python -m router.emulators --provider openai --port 8001``: run one emulator standalone.

Request recording is off by default here because nothing can read the
records of a standalone process and a long benchmark would grow them forever.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from router.emulators import DEFAULT_API_KEY, PROVIDERS, Behaviour
from router.emulators.server import DEFAULT_ANSWER_WORDS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m router.emulators", description=__doc__)
    parser.add_argument("--provider", choices=sorted(PROVIDERS), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated model/deployment names (default: provider's list)",
    )
    parser.add_argument("--any-model", action="store_true", help="accept every model name")
    parser.add_argument("--answer-words", type=int, default=DEFAULT_ANSWER_WORDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="keep request records in memory")
    parser.add_argument(
        "--default-behaviour",
        default=None,
        metavar="JSON",
        help="default Behaviour as JSON, e.g. '{\"latency_s\": 0.05}'",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    models: Sequence[str] | None = ()
    if args.any_model:
        models = None
    elif args.models:
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    server = PROVIDERS[args.provider](
        api_key=args.api_key,
        models=models,
        answer_words=args.answer_words,
        seed=args.seed,
        record=args.record,
    )
    if args.default_behaviour:
        server.default = Behaviour.from_json(args.default_behaviour)
    await server.start(host=args.host, port=args.port)
    print(
        f"{args.provider} emulator listening on {server.base_url} (client url {server.url})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import uvloop  # optional speed-up; absent on Windows
    except ImportError:
        asyncio.run(_serve(args))
    else:
        uvloop.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
