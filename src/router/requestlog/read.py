"""Reading a request log back: a JSONL file with its rotated predecessors, or a Redis stream.

``open_log("logs/requests.jsonl")`` reads ``requests.jsonl.N`` ... ``.1`` and then the file
itself, oldest first. ``open_log("redis://host:6379/0?stream=router:requests")`` reads the
stream from its oldest entry (``stream`` defaults to ``router:requests``). A line that is
not a record of this format is skipped and reported, never fatal: a log cut short by a crash
still replays.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from router.requestlog.record import RecordError, RequestRecord, decode
from router.requestlog.redis_sink import FIELD, SCHEMES

DEFAULT_STREAM = "router:requests"
_PAGE = 1000


@dataclass(slots=True)
class Skipped:
    """Lines that were not records: how many, and where the first few were."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, where: str, error: str) -> None:
        self.count += 1
        if len(self.examples) < 3:
            self.examples.append(f"{where}: {error}")


class LogSource:
    """Records in the order they were written; ``total`` is known before reading (for a
    progress bar), ``skipped`` fills while reading."""

    def __init__(self, name: str, total: int, records: Iterator[tuple[str, bytes]]) -> None:
        self.name = name
        self.total = total
        self.skipped = Skipped()
        self._lines = records

    def __iter__(self) -> Iterator[RequestRecord]:
        for where, line in self._lines:
            if not line.strip():
                continue
            try:
                yield decode(line)
            except RecordError as exc:
                self.skipped.add(where, str(exc))


def open_log(location: str) -> LogSource:
    """Raises ``OSError`` (no such file, Redis unreachable) or ``ValueError`` (bad URL)."""
    if location.partition("://")[0].lower() in SCHEMES:
        return _stream(location)
    return _files(Path(location))


def rotated_files(path: Path) -> list[Path]:
    """``path``'s rotated predecessors, oldest first, then ``path`` (if it exists)."""
    older = []
    for n in itertools.count(1):
        candidate = path.with_name(f"{path.name}.{n}")
        if not candidate.is_file():
            break
        older.append(candidate)
    files = [*reversed(older)]
    if path.is_file():
        files.append(path)
    if not files:
        raise FileNotFoundError(f"no request log at {path}")
    return files


def _files(path: Path) -> LogSource:
    files = rotated_files(path)
    total = 0
    for f in files:
        with f.open("rb") as fh:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))

    def lines() -> Iterator[tuple[str, bytes]]:
        for f in files:
            with f.open("rb") as fh:
                for number, line in enumerate(fh, 1):
                    yield f"{f}:{number}", line

    return LogSource(str(path), total, lines())


def _stream(url: str) -> LogSource:
    from redis import Redis
    from redis.exceptions import RedisError

    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    key = next((v for k, v in query if k == "stream"), DEFAULT_STREAM)
    rest = urlencode([(k, v) for k, v in query if k != "stream"])
    client = Redis.from_url(urlunsplit(parts._replace(query=rest)), socket_timeout=10.0)
    try:
        total = int(client.xlen(key))
    except RedisError as exc:
        client.close()
        raise OSError(f"cannot read stream {key!r}: {exc}") from exc

    def lines() -> Iterator[tuple[str, bytes]]:
        start = "-"
        try:
            while True:
                page = client.xrange(key, min=start, max="+", count=_PAGE) or []
                last = None
                for entry_id, fields in page:
                    last = _str(entry_id)
                    raw = (fields or {}).get(FIELD.encode(), b"")
                    yield f"{key}#{last}", raw if isinstance(raw, bytes) else str(raw).encode()
                if len(page) < _PAGE or last is None:
                    return
                start = "(" + last  # exclusive: after the last entry read
        finally:
            client.close()

    host = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    safe = urlunsplit(parts._replace(netloc=host, query=""))  # no password in reports
    return LogSource(f"{safe} stream {key}", total, lines())


def _str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
