"""Helpers for the fault matrix: config edits, requests, SSE reading and /metrics parsing."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from support.stack import RunningRouter

HELLO: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
STREAM: dict[str, Any] = {**HELLO, "stream": True}
JSON = {"content-type": "application/json"}


def set_timeouts(config_dir: Path, **timeouts: float) -> None:
    """Give every deployment of the demo catalog these per-try timeouts."""
    path = config_dir / "router.yaml"
    inline = ", ".join(f"{k}: {v}" for k, v in timeouts.items())
    text = path.read_text().replace(
        "        api_key_env:", f"        timeouts: {{{inline}}}\n        api_key_env:"
    )
    path.write_text(text)


def set_server(config_dir: Path, **settings: object) -> None:
    path = config_dir / "router.yaml"
    lines = "".join(f"  {k}: {v}\n" for k, v in settings.items())
    path.write_text(path.read_text().replace("server:\n", "server:\n" + lines, 1))


def repoint(config_dir: Path, old_url: str, new_url: str) -> None:
    path = config_dir / "router.yaml"
    text = path.read_text()
    assert f"base_url: {old_url}\n" in text
    path.write_text(text.replace(f"base_url: {old_url}\n", f"base_url: {new_url}\n", 1))


def add_policy(config_dir: Path, yaml_text: str, name: str = "reliability.yaml") -> None:
    (config_dir / name).write_text(yaml_text)


def post(
    router: RunningRouter, body: Any, headers: dict[str, str] | None = None, timeout: float = 30
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        f"{router.v1}/chat/completions",
        content=content,
        headers={**JSON, **(headers or {})},
        timeout=timeout,
    )


@dataclass
class SSE:
    status: int
    headers: httpx.Headers
    events: list[Any] = field(default_factory=list)  # decoded JSON events
    done: bool = False  # ended with data: [DONE]

    @property
    def text(self) -> str:
        return "".join(
            c["choices"][0]["delta"].get("content") or ""
            for c in self.events
            if isinstance(c, dict) and c.get("choices")
        )

    @property
    def error(self) -> dict[str, Any] | None:
        last = self.events[-1] if self.events else None
        return last["error"] if isinstance(last, dict) and "error" in last else None


def stream(router: RunningRouter, body: Any = None, headers: dict[str, str] | None = None) -> SSE:
    with httpx.stream(
        "POST",
        f"{router.v1}/chat/completions",
        content=orjson.dumps(body or STREAM),
        headers={**JSON, **(headers or {})},
        timeout=30,
    ) as resp:
        out = SSE(resp.status_code, resp.headers)
        raw = resp.read().decode()
    if out.status != 200:
        out.events.append(orjson.loads(raw))
        return out
    for event in raw.split("\n\n"):
        if not event:
            continue
        assert event.startswith("data: "), event
        payload = event.removeprefix("data: ")
        if payload == "[DONE]":
            out.done = True
        else:
            assert not out.done, "an event after [DONE]"
            out.events.append(orjson.loads(payload))
    return out


def content_events(sse: SSE) -> int:
    return sum(
        1
        for c in sse.events
        if isinstance(c, dict) and c.get("choices") and c["choices"][0]["delta"].get("content")
    )


class Metrics:
    """One scrape of ``/metrics``; ``value(name, **labels)`` sums the matching samples."""

    def __init__(self, router: RunningRouter) -> None:
        self.text = httpx.get(f"{router.base_url}/metrics", timeout=10).text
        self.samples = [
            (s.name, s.labels, s.value)
            for family in text_string_to_metric_families(self.text)
            for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            v
            for n, ls, v in self.samples
            if n == name and all(ls.get(k) == want for k, want in labels.items())
        )


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``check`` until it holds or ``timeout`` passes (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
