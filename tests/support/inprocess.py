"""The whole app in the test's own event loop: ``create_app`` over the four provider
emulators (real aiohttp servers on loopback), driven through ``httpx.ASGITransport``, so a
pipeline or API change is caught without starting a server process.

    async with in_process(tmp_path, extra=POLICY_YAML) as app:
        resp = await app.client.post("/v1/chat/completions", json=...)
        app.openai.requests, app.metric("router_requests_total", policy="direct")
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from router.app import create_app
from router.demo import DEMO_KEY_ENV, Endpoints, write_demo_config
from router.emulators import (
    DEFAULT_API_KEY,
    AnthropicEmulator,
    AzureFoundryEmulator,
    AzureOpenAIEmulator,
    OpenAIEmulator,
)
from router.metrics import Metrics
from router.state import RouterState
from router.upstream.select import default_upstreams


@dataclass
class InProcess:
    client: httpx.AsyncClient
    state: RouterState
    metrics: Metrics
    openai: OpenAIEmulator
    azure: AzureOpenAIEmulator
    foundry: AzureFoundryEmulator
    anthropic: AnthropicEmulator
    config_dir: Path

    def metric(self, name: str, **labels: str) -> float:
        """One sample's value (0 when the series does not exist yet)."""
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@contextlib.asynccontextmanager
async def in_process(tmp_path: Path, *, extra: str = "", **app: Any) -> AsyncIterator[InProcess]:
    """The demo catalog on fresh emulators, plus ``extra`` YAML (policies, server settings)."""
    emulators = (
        OpenAIEmulator(),
        AzureOpenAIEmulator(),
        AzureFoundryEmulator(),
        AnthropicEmulator(),
    )
    for emu in emulators:
        await emu.start()
    openai, azure, foundry, anthropic = emulators
    config_dir = tmp_path / "policies"
    write_demo_config(config_dir, Endpoints(openai.url, azure.url, foundry.url, anthropic.url))
    if extra:
        (config_dir / "extra.yaml").write_text(extra)
    # The provider key lives only in the app's own environ: nothing reads the process's.
    environ = {DEMO_KEY_ENV: DEFAULT_API_KEY}
    upstream = default_upstreams(environ)
    metrics = Metrics.create()
    made = create_app(
        config_dir,
        upstream=upstream,
        metrics=metrics,
        environ=environ,
        watch_interval_s=None,
        **app,
    )
    transport = httpx.ASGITransport(app=made)
    client = httpx.AsyncClient(transport=transport, base_url="http://router.test")
    try:
        yield InProcess(
            client, made.state.router, metrics, openai, azure, foundry, anthropic, config_dir
        )
    finally:
        await client.aclose()
        await upstream.aclose()
        for emu in emulators:
            await emu.stop()
