"""Where records go: the ``Sink`` protocol and the embedded default, rotated JSONL files.

A sink takes a batch of encoded records (one JSON document each, no newline) and either
stores all of them or raises; the writer counts a batch that raised as dropped. Sinks run on
the writer's background task only, never on a request's path.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Sink(Protocol):
    @property
    def name(self) -> str:
        """``jsonl`` or ``redis``: the metric label of what it wrote."""
        ...

    async def write(self, lines: Sequence[bytes]) -> None:
        """Store every line, or raise."""
        ...

    async def aclose(self) -> None: ...


class JsonlSink:
    """Appends to ``path``; past ``rotate_bytes`` it becomes ``path.1`` (``.1`` becomes
    ``.2``, ...) and ``keep`` rotated files are kept, the oldest deleted.

    Several processes may share one path (uvicorn workers): each batch is appended and the
    size checked under an exclusive ``flock`` on ``path.lock``, and the file is reopened per
    batch, so a rotation by another process (or by logrotate) is never written past. Batches
    run in a thread: a slow disk delays the log, not the event loop.
    """

    def __init__(self, path: Path, rotate_bytes: int, keep: int) -> None:
        if rotate_bytes <= 0 or keep < 1:
            raise ValueError("rotate_bytes must be > 0 and keep >= 1")
        self._path = path
        self._lock = path.with_name(path.name + ".lock")
        self._rotate_bytes = rotate_bytes
        self._keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        return "jsonl"

    @property
    def path(self) -> Path:
        return self._path

    async def write(self, lines: Sequence[bytes]) -> None:
        if lines:
            await asyncio.to_thread(self._append, b"".join(line + b"\n" for line in lines))

    async def aclose(self) -> None:
        return None

    def _append(self, data: bytes) -> None:
        with open(self._lock, "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(self._path, "ab") as out:
                    out.write(data)
                    size = out.tell()
                if size >= self._rotate_bytes:
                    self._rotate()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _rotate(self) -> None:
        oldest = self.rotated(self._keep)
        if oldest.exists():
            oldest.unlink()
        for n in range(self._keep - 1, 0, -1):
            older = self.rotated(n)
            if older.exists():
                os.replace(older, self.rotated(n + 1))
        os.replace(self._path, self.rotated(1))

    def rotated(self, n: int) -> Path:
        return self._path.with_name(f"{self._path.name}.{n}")
