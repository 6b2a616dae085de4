"""Router in front of the four provider emulators, on real loopback sockets, for end-to-end
tests with any client (the official ``openai`` SDK, sync or async, or raw httpx).

Emulators and router share one event loop in a background thread; tests talk to them over
HTTP from the main thread, as a user's SDK would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from router.app import create_app
from router.demo import DEMO_KEY_ENV, Endpoints, write_demo_config
from router.emulators import (
    DEFAULT_API_KEY,
    AnthropicEmulator,
    AzureFoundryEmulator,
    AzureOpenAIEmulator,
    EmulatorThread,
    OpenAIEmulator,
)


@dataclass
class Emulators:
    thread: EmulatorThread[Any, Any, Any, Any]
    openai: OpenAIEmulator
    azure: AzureOpenAIEmulator
    foundry: AzureFoundryEmulator
    anthropic: AnthropicEmulator

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.openai.url, self.azure.url, self.foundry.url, self.anthropic.url)

    def reset(self) -> None:
        for emu in (self.openai, self.azure, self.foundry, self.anthropic):
            emu.reset()


class RunningRouter:
    """A uvicorn server for one app, on the emulators' loop."""

    def __init__(self, emulators: Emulators, app: FastAPI) -> None:
        self.app = app
        self._thread = emulators.thread
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        config.load()
        self._server = uvicorn.Server(config)
        self._sock = config.bind_socket()
        self.port = self._sock.getsockname()[1]
        self._task: asyncio.Future[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"

    def start(self) -> None:
        async def boot() -> None:
            self._task = asyncio.ensure_future(self._server.serve(sockets=[self._sock]))
            for _ in range(200):
                if self._server.started:
                    return
                await asyncio.sleep(0.01)
            raise RuntimeError("router did not start")

        self._thread.call(boot())

    def stop(self) -> None:
        async def halt() -> None:
            self._server.should_exit = True
            if self._task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(self._task, 10)

        self._thread.call(halt(), timeout=15)


@pytest.fixture(scope="session")
def emulators() -> Iterator[Emulators]:
    os.environ.setdefault(DEMO_KEY_ENV, DEFAULT_API_KEY)
    thread = EmulatorThread(
        OpenAIEmulator(), AzureOpenAIEmulator(), AzureFoundryEmulator(), AnthropicEmulator()
    )
    openai_emu, azure, foundry, anthropic = thread.start()
    try:
        yield Emulators(thread, openai_emu, azure, foundry, anthropic)
    finally:
        thread.stop()


@pytest.fixture
def config_dir(tmp_path: Path, emulators: Emulators) -> Path:
    """A config directory with the demo catalog pointing at the emulators."""
    directory = tmp_path / "policies"
    write_demo_config(directory, emulators.endpoints)
    return directory


RouterFactory = Callable[..., RunningRouter]


@pytest.fixture
def start_router(emulators: Emulators) -> Iterator[RouterFactory]:
    """``start_router(config_dir, **create_app_kwargs)`` -> a running router; stopped after."""
    running: list[RunningRouter] = []

    def start(config: Path, **kwargs: Any) -> RunningRouter:
        kwargs.setdefault("watch_interval_s", None)
        router = RunningRouter(emulators, create_app(config, **kwargs))
        router.start()
        running.append(router)
        return router

    emulators.reset()
    yield start
    for router in running:
        router.stop()


@pytest.fixture
def router(start_router: RouterFactory, config_dir: Path) -> RunningRouter:
    return start_router(config_dir)
