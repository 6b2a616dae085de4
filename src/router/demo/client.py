"""A tiny blocking chat client for the demo's own requests (stdlib only, run in a thread).

The demo talks to router the way any client does, over HTTP; it keeps what a person wants to
see of each answer: the status, the model that answered and the ``x-router-*`` headers.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    status: int
    model: str  # the logical model that answered ("" on an error)
    headers: dict[str, str] = field(default_factory=dict)  # the x-router-* ones
    text: str = ""  # the answer's text, or the error message

    @property
    def cache(self) -> str:
        return self.headers.get("x-router-cache", "")


class ChatClient:
    """POST ``/chat/completions`` on ``base_url`` (".../v1"); one connection per call."""

    def __init__(self, base_url: str, key: str | None, timeout_s: float = 60.0) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._https = parts.scheme == "https"
        self._path = parts.path.rstrip("/") + "/chat/completions"
        self._key = key
        self._timeout = timeout_s

    def chat(self, model: str, prompt: str, *, stream: bool = False) -> ChatAnswer:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        if stream:
            body["stream"] = True
        headers = {"content-type": "application/json"}
        if self._key:
            headers["authorization"] = f"Bearer {self._key}"
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self._timeout)
        try:
            conn.request("POST", self._path, json.dumps(body), headers)
            response = conn.getresponse()
            raw = response.read().decode("utf-8", "replace")
            routed = {
                k.lower(): v for k, v in response.getheaders() if k.lower().startswith("x-router-")
            }
            if response.status != 200:
                return ChatAnswer(response.status, "", routed, _error_message(raw))
            model_name, text = _stream_text(raw) if stream else _completion_text(raw)
            return ChatAnswer(response.status, model_name, routed, text)
        finally:
            conn.close()


def _completion_text(raw: str) -> tuple[str, str]:
    data = json.loads(raw)
    return str(data.get("model", "")), str(data["choices"][0]["message"].get("content") or "")


def _stream_text(raw: str) -> tuple[str, str]:
    model, parts = "", []
    for line in raw.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[len("data: ") :])
        model = str(chunk.get("model") or model)
        for choice in chunk.get("choices") or []:
            parts.append(str((choice.get("delta") or {}).get("content") or ""))
    return model, "".join(parts)


def _error_message(raw: str) -> str:
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw[:200]
