"""router opens sockets only to loopback upstreams: no telemetry, no remote price map.

Runs in a fresh interpreter with an audit hook installed before anything is imported, then
serves every request shape the adapters' contract suite sends (plus images, inline and by an
unresolvable URL), streamed and not, to every provider, and reports every non-loopback
connect or name lookup. With a
deployment on a provider only litellm speaks (DeepSeek, against the OpenAI emulator), litellm
is imported at start, and its import is what used to fetch a price map; without one, litellm
is never imported at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import ipaddress, json, os, socket, sys
    outside = []

    def loopback(host):
        if host in (None, "", "localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def hook(event, args):
        if event == "socket.connect":
            addr = args[1]
            if isinstance(addr, tuple) and not loopback(addr[0]):
                outside.append(f"connect {addr[0]}:{addr[1]}")
        elif event == "socket.getaddrinfo" and not loopback(args[0]):
            outside.append(f"getaddrinfo {args[0]}")

    sys.addaudithook(hook)

    import asyncio, pathlib, tempfile
    import httpx, uvicorn
    os.environ["ROUTER_DEMO_PROVIDER_KEY"] = "emulator-key"
    from router.app import create_app
    from router.demo import Endpoints, write_demo_config
    from router.emulators import (AnthropicEmulator, AzureFoundryEmulator,
                                  AzureOpenAIEmulator, OpenAIEmulator)

    WITH_LITELLM = sys.argv[1] == "litellm"
    EXTRA = (
        "models:\\n"
        "  deepseek-chat:\\n"
        "    deployments:\\n"
        "      - provider: deepseek\\n"
        "        model: deepseek-chat\\n"
        "        base_url: {url}\\n"
        "        api_key_env: ROUTER_DEMO_PROVIDER_KEY\\n"
    )

    WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    PERSON = {"type": "json_schema", "json_schema": {"name": "person", "schema": {
        "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
        "additionalProperties": False}}}
    PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
             "nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg==")
    def looking_at(url):
        return [{"role": "user", "content": [{"type": "text", "text": "what is it?"},
                                             {"type": "image_url", "image_url": {"url": url}}]}]
    # The request shapes the adapters' contract suite sends, and images: inline, and by a
    # URL on a host that does not exist (whoever looked it up would show here).
    SHAPES = {
        "plain": {},
        "system, stop, max_tokens": {"max_tokens": 32, "stop": ["END"], "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]},
        "tools": {"tools": [WEATHER], "tool_choice": "required",
                  "messages": [{"role": "user", "content": "weather in Paris?"}]},
        "json_schema": {"response_format": PERSON},
        "image data": {"messages": looking_at(PIXEL)},
        "image url": {"messages": looking_at("https://images.example.invalid/cat.png")},
    }

    async def main():
        emus = [OpenAIEmulator(models=None), AzureOpenAIEmulator(), AzureFoundryEmulator(),
                AnthropicEmulator()]
        for e in emus:
            await e.start()
        o, a, f, c = emus
        d = pathlib.Path(tempfile.mkdtemp())
        write_demo_config(d, Endpoints(o.url, a.url, f.url, c.url))
        models = ["gpt-4o", "mai-code-1-flash", "claude-sonnet"]
        if WITH_LITELLM:
            (d / "litellm.yaml").write_text(EXTRA.format(url=o.url))
            models.append("deepseek-chat")
        config = uvicorn.Config(create_app(d, watch_interval_s=None), port=0,
                                log_level="warning")
        config.load()
        server = uvicorn.Server(config)
        sock = config.bind_socket()
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        at_start = "litellm" in sys.modules
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/chat/completions"
        statuses = {}
        async with httpx.AsyncClient(timeout=60) as client:
            for model in models:
                for stream in (False, True):
                    for shape, fields in SHAPES.items():
                        body = {"model": model, "stream": stream, **fields}
                        if "messages" not in body:
                            body["messages"] = [{"role": "user", "content": "hi"}]
                        r = await client.post(url, json=body)
                        statuses[f"{model}/{stream}/{shape}"] = r.status_code
        server.should_exit = True
        await task
        report = {"outside": outside, "statuses": statuses, "at_start": at_start,
                  "at_end": "litellm" in sys.modules}
        print(json.dumps(report))

    asyncio.run(main())
    """
)


SHAPES = 6  # request shapes per model and stream, above


@pytest.mark.parametrize("providers", ["litellm", "native"])
def test_router_connects_only_to_loopback(providers: str) -> None:
    # Even an environment asking litellm for its remote price map must not get it.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "False"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, providers],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    statuses = report["statuses"]
    assert len(statuses) == (8 if providers == "litellm" else 6) * SHAPES
    # Through litellm an image URL is refused (litellm would download it); every other
    # adapter passes it on as a URL, for the provider to fetch.
    refused = {k for k in statuses if k.startswith("deepseek-chat/") and k.endswith("/image url")}
    assert {k: v for k, v in statuses.items() if v != 200} == dict.fromkeys(refused, 400)
    assert report["outside"] == []
    # litellm is loaded at start when a deployment needs it, and never otherwise.
    assert report["at_start"] is (providers == "litellm")
    assert report["at_end"] is (providers == "litellm")
