"""``router demo``: the shipped policies on emulated providers, in one process, offline.

Start the four emulators (OpenAI, Azure OpenAI, Azure AI Foundry, Anthropic) on loopback,
rewrite the config's deployments onto them (:mod:`router.demo.emulate`), serve router, then
send two requests through ``auto`` and print what came back: a code prompt answered by
MAI-Code-1-Flash, a general one by the cheapest model above the policy's quality floor, and
the ``x-router-*`` headers that explain each. With ``--traffic N`` it sends a sample workload,
prints a table of what it cost, and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from router.demo.client import ChatAnswer, ChatClient
from router.demo.emulate import Rewrite, emulate
from router.demo.fixture import DEMO_KEY_ENV, Endpoints
from router.demo.traffic import ProgressBar, render, run_traffic
from router.logs import DEFAULT_LOGS, LogSettings

CODE_PROMPT = "Write a function that reverses a list"
GENERAL_PROMPT = "Suggest a name for a cat."
_SHOWN_HEADERS = (
    "x-router-policy",
    "x-router-model",
    "x-router-deployment",
    "x-router-reason",
    "x-router-cost-usd",
    "x-router-cache",
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    config: Path
    host: str = "127.0.0.1"
    port: int = 8080
    traffic: int = 0  # > 0: send this many requests, print the table, stop
    logs: LogSettings = DEFAULT_LOGS


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    import uvicorn

    from router.app import create_app
    from router.config.check import load_checked
    from router.config.yamlsrc import ConfigError
    from router.emulators import (
        DEFAULT_API_KEY,
        AnthropicEmulator,
        AzureFoundryEmulator,
        AzureOpenAIEmulator,
        OpenAIEmulator,
    )
    from router.tracing import tracing_from_env

    source = options.config.resolve()
    try:
        load_checked(source)  # errors name the user's files, not the rewritten copies
    except ConfigError as exc:
        print(f"router demo: config at {source} is invalid:\n{exc}", file=sys.stderr)
        return 1
    os.environ[DEMO_KEY_ENV] = DEFAULT_API_KEY
    # models=None: answer any model name, as a real provider serving the config would.
    emulators = (
        OpenAIEmulator(record=False, models=None),
        AzureOpenAIEmulator(record=False, models=None),
        AzureFoundryEmulator(record=False, models=None),
        AnthropicEmulator(record=False, models=None),
    )
    for emu in emulators:
        await emu.start("127.0.0.1", 0)
    try:
        with tempfile.TemporaryDirectory(prefix="router-demo-") as tmp:
            openai_emu, azure, foundry, anthropic = emulators
            endpoints = Endpoints(openai_emu.url, azure.url, foundry.url, anthropic.url)
            rewrites = emulate(source, Path(tmp), endpoints)
            app = create_app(Path(tmp), logs=options.logs, tracing=tracing_from_env())
            config = uvicorn.Config(
                app,
                host=options.host,
                port=options.port,
                log_level="warning",
                log_config=None,  # router.logs, set up by the command line, formats every line
                access_log=False,
            )
            config.load()
            server = uvicorn.Server(config)
            # Bind first, so the banner can name the real port (port 0 picks a free one).
            sock = config.bind_socket()
            bound = sock.getsockname()[1]
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            # uvicorn has no "started" event: look every 20 ms, and stop if serving failed.
            while not server.started and not serving.done():
                await asyncio.wait([serving], timeout=0.02)
            if serving.done():
                return 1
            key = os.environ.get("ROUTER_MASTER_KEY") or None
            local = "127.0.0.1" if options.host in ("0.0.0.0", "::", "") else options.host
            base_url = f"http://{local}:{bound}/v1"
            client = ChatClient(base_url, key)
            code = await asyncio.to_thread(client.chat, "auto", CODE_PROMPT)
            general = await asyncio.to_thread(client.chat, "auto", GENERAL_PROMPT)
            out.write(banner(source, rewrites, f"http://{options.host}:{bound}/v1", key))
            out.write(tour(code, general))
            out.flush()
            if options.traffic > 0:
                bar = ProgressBar(sys.stderr, "traffic")
                report = await asyncio.to_thread(run_traffic, base_url, key, options.traffic, bar)
                out.write("\n" + render(report) + "\n")
                out.flush()
                server.should_exit = True
            else:
                out.write(snippet(base_url, key))
                out.flush()
            await serving
            return 0
    finally:
        for emu in emulators:
            with contextlib.suppress(Exception):
                await emu.stop()


def banner(source: Path, rewrites: list[Rewrite], base_url: str, key: str | None) -> str:
    lines = [
        f"router demo: the policies in {source}, offline: every deployment is rewritten to a",
        "local provider emulator (no keys, nothing leaves this machine):",
    ]
    width = max((len(r.deployment) for r in rewrites), default=0)
    for r in rewrites:
        lines.append(f"  {r.deployment.ljust(width)} -> {r.emulator} emulator (was {r.was})")
    auth = "the key in ROUTER_MASTER_KEY" if key else "no key needed"
    lines += ["", f"router is up: OpenAI-compatible base_url = {base_url}  ({auth})", ""]
    return "\n".join(lines) + "\n"


def tour(code: ChatAnswer, general: ChatAnswer) -> str:
    """What the two requests through ``auto`` came back with."""
    lines = ['Two requests through model "auto", sent just now:']
    for prompt, answer in ((CODE_PROMPT, code), (GENERAL_PROMPT, general)):
        lines.append(f"  {prompt!r} -> {answer.model or f'HTTP {answer.status}: {answer.text}'}")
        for name in _SHOWN_HEADERS:
            if name in answer.headers:
                lines.append(f"      {name}: {answer.headers[name]}")
    return "\n".join(lines) + "\n"


def snippet(base_url: str, key: str | None) -> str:
    auth = key or "not-needed"
    return f"""
Try it:

  curl -sD - {base_url}/chat/completions -H 'content-type: application/json' \\
    -H 'authorization: Bearer {auth}' \\
    -d '{{"model": "auto", "messages": [{{"role": "user", "content": "{CODE_PROMPT}"}}]}}'

  from openai import OpenAI
  client = OpenAI(base_url="{base_url}", api_key="{auth}")
  for prompt in ("{CODE_PROMPT}", "{GENERAL_PROMPT}"):
      raw = client.chat.completions.with_raw_response.create(
          model="auto", messages=[{{"role": "user", "content": prompt}}])
      print(raw.parse().model, raw.headers["x-router-reason"])

Send a sample workload: router demo --traffic 100. Press Ctrl-C to stop.
"""
