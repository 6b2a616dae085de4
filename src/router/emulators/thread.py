"""Run emulators on a private event loop in a background thread, for sync code.

    with EmulatorThread(OpenAIEmulator(), AnthropicEmulator()) as (openai_emu, claude):
        client = openai.OpenAI(base_url=openai_emu.url, api_key=openai_emu.api_key)
        ...

Records and plans may be read and set from the calling thread: list appends
and the planner are thread-safe enough for tests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, TypeVarTuple

from router.emulators.server import EmulatorServer

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_START_TIMEOUT_S = 10.0


class EmulatorThread(Generic[*Ts]):
    """Context manager that starts the given emulators and yields them back as a tuple."""

    def __init__(self, *emulators: *Ts, host: str = "127.0.0.1") -> None:
        self._emulators = emulators
        self._host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="emulators", daemon=True)

    @property
    def servers(self) -> tuple[EmulatorServer, ...]:
        return tuple(e for e in self._emulators if isinstance(e, EmulatorServer))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = _START_TIMEOUT_S) -> T:
        """Run a coroutine on the emulators' loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def start(self) -> tuple[*Ts]:
        self._thread.start()
        for server in self.servers:
            self.call(server.start(host=self._host, port=0))
        return self._emulators

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            for server in self.servers:
                self.call(server.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_START_TIMEOUT_S)
            self._loop.close()

    def __enter__(self) -> tuple[*Ts]:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()
