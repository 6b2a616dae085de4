"""router never fetches a URL a request carries: an http(s) image or file URL goes to the
provider as a URL, or is refused; litellm's download-and-inline path is never reached. A
loopback listener stands in for the URL's host and must see no connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from router.errors import AttemptFailed, InvalidRequest
from support.upstream import Rig, ask


class Listener:
    """Accepts and counts connections on a loopback port."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    made = Listener()
    try:
        yield made
    finally:
        made.close()


def _parts(port: int) -> list[dict[str, Any]]:
    base = f"http://127.0.0.1:{port}"
    return [
        {"type": "image_url", "image_url": {"url": f"{base}/cat.png"}},
        {"type": "file", "file": {"file_id": f"{base}/doc.pdf"}},
    ]


@pytest.mark.parametrize("part", [0, 1], ids=["image_url", "file_url"])
@pytest.mark.parametrize("stream", [False, True])
async def test_no_adapter_fetches_a_url_from_the_request(
    rig: Rig, listener: Listener, part: int, stream: bool
) -> None:
    content = [{"type": "text", "text": "what is this?"}, _parts(listener.port)[part]]
    body = {**ask(), "messages": [{"role": "user", "content": content}]}
    outcome = await _send(rig, body, stream)
    assert listener.connections == 0
    if rig.target.name.startswith("litellm"):  # refused by name, never downloaded
        assert isinstance(outcome, InvalidRequest), outcome
        assert (outcome.code, outcome.param) == ("unsupported_parameter", "messages.0.content.1")


async def _send(rig: Rig, body: dict[str, Any], stream: bool) -> object:
    """The answer, or the error the attempt ended with (an emulator may refuse a part it
    does not know: what matters is that nobody fetched the URL)."""
    try:
        if not stream:
            return await rig.upstream.complete(rig.deployment(), body)
        answer = await rig.upstream.stream(rig.deployment(), body)
        return [chunk async for chunk in answer]
    except (InvalidRequest, AttemptFailed) as exc:
        return exc


async def test_litellm_is_never_asked_to_download_an_image(claude: Rig, listener: Listener) -> None:
    # litellm's Anthropic path downloads image URLs to inline them (its own URL policy
    # refuses loopback, which is why the listener alone could not tell): router must refuse
    # first, so that path is never reached, whatever the URL.
    content = [{"type": "text", "text": "what is this?"}, _parts(listener.port)[0]]
    body = {**ask(), "messages": [{"role": "user", "content": content}]}
    outcome = await _send(claude, body, stream=False)
    assert isinstance(outcome, InvalidRequest), outcome
    assert outcome.param == "messages.0.content.1"
    assert claude.emu.requests == []
    assert listener.connections == 0
