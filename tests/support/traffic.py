"""Helpers for metrics tests that drive router's real traffic: scrape and diff ``/metrics``,
post chat requests, and tune the demo config.

Imported as ``support.traffic`` by the end-to-end metrics, tracing and log tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

SeriesKey = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class Scrape:
    """One parsed ``/metrics`` body: every sample (``_created`` left out) by name and labels."""

    samples: Mapping[SeriesKey, float]
    types: Mapping[str, str]  # sample name -> family type

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples: dict[SeriesKey, float] = {}
        types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name.endswith("_created"):
                    continue
                key = (s.name, frozenset(s.labels.items()))
                assert key not in samples, f"duplicate series {key}"
                samples[key] = s.value
                types[s.name] = family.type
        return cls(samples, types)

    @classmethod
    def get(cls, base_url: str, client: httpx.Client | None = None) -> Scrape:
        get = client.get if client is not None else httpx.get
        resp = get(f"{base_url}/metrics", timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/plain")
        return cls.parse(resp.text)

    def value(self, name: str, **labels: str) -> float | None:
        """The sample with exactly these labels, or None when absent."""
        return self.samples.get((name, frozenset(labels.items())))

    def total(self, name: str, **labels: str) -> float:
        """Sum over every series of ``name`` whose labels include ``labels``."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= ls)

    def label_values(self) -> set[str]:
        return {value for _, labels in self.samples for _, value in labels}


def counted(before: Scrape, after: Scrape) -> dict[SeriesKey, float]:
    """What moved between two scrapes, among counters (``_total``) and histogram counts
    (``_count``). A series that first appears with 0 (a saving of nothing) is not a move."""
    moved: dict[SeriesKey, float] = {}
    for key, value in after.samples.items():
        name = key[0]
        if not (name.endswith("_total") or name.endswith("_count")):
            continue
        change = value - before.samples.get(key, 0.0)
        assert change >= 0, f"{key} went down: {change}"
        if change:
            moved[key] = change
    return moved


def series(name: str, **labels: str) -> SeriesKey:
    return (name, frozenset(labels.items()))


def drop_label(moved: Mapping[SeriesKey, float], name: str, label: str) -> dict[SeriesKey, float]:
    """Sum ``name``'s series over ``label`` (others are kept as they are)."""
    out: dict[SeriesKey, float] = {}
    for (n, labels), value in moved.items():
        if n == name:
            labels = frozenset((k, v) for k, v in labels if k != label)
        key = (n, labels)
        out[key] = out.get(key, 0.0) + value
    return out


def values_of(moved: Mapping[SeriesKey, float], name: str, label: str) -> set[str]:
    return {dict(labels)[label] for n, labels in moved if n == name}


def chat(
    base_url: str,
    model: str,
    text: str,
    *,
    stream: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    **extra: Any,
) -> httpx.Response:
    """POST one chat request on a fresh connection; a stream is read to its end."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    if stream:
        body["stream"] = True
    with httpx.Client(timeout=timeout) as client:
        if not stream:
            return client.post(f"{base_url}/v1/chat/completions", json=body, headers=headers)
        with client.stream(
            "POST", f"{base_url}/v1/chat/completions", json=body, headers=headers
        ) as resp:
            resp.read()
            return resp


def sse_events(resp: httpx.Response) -> list[Any]:
    """The JSON events of an SSE body, without the closing ``[DONE]``."""
    import json

    events = []
    for line in resp.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            events.append(json.loads(line[len("data: ") :]))
    return events


def streamed_text(resp: httpx.Response) -> str:
    parts = []
    for event in sse_events(resp):
        for choice in event.get("choices") or ():
            parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


def set_server(config_dir: Path, **settings: Any) -> None:
    """Add ``server:`` settings to the demo config's ``router.yaml``."""
    path = config_dir / "router.yaml"
    text = path.read_text(encoding="utf-8")
    assert "server:\n" in text
    lines = "".join(f"  {key}: {value}\n" for key, value in settings.items())
    path.write_text(text.replace("server:\n", "server:\n" + lines, 1), encoding="utf-8")


def append_yaml(config_dir: Path, text: str) -> None:
    """Atomically (write aside, then rename): a hot-reload poller must never see the file
    truncated half-way through the write, which it would load as a config of its own."""
    path = config_dir / "router.yaml"
    aside = path.with_suffix(".yaml.tmp")
    aside.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    aside.replace(path)


def all_contain(haystacks: Iterable[str], needle: str) -> list[str]:
    return [h for h in haystacks if needle in h]
