"""Azure OpenAI (via openai.AzureOpenAI) and Azure AI Foundry emulators."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from router.emulators import AzureFoundryEmulator, AzureOpenAIEmulator
from support.emulators import KEY

API_VERSION = "2024-10-21"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello azure"}]


def azure_client(emu: AzureOpenAIEmulator, key: str = KEY) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=emu.url, api_key=key, api_version=API_VERSION, max_retries=0
    )


async def test_azure_sdk_non_streaming(azure_emu: AzureOpenAIEmulator) -> None:
    async with azure_client(azure_emu) as api:
        result = await api.chat.completions.create(model="gpt-4o-prod", messages=MESSAGES)
    assert result.choices[0].message.content is not None
    assert result.choices[0].message.content.startswith("Answer from gpt-4o-prod: hello azure")
    record = azure_emu.requests[-1]
    assert record.path == "/openai/deployments/gpt-4o-prod/chat/completions"
    assert record.query == {"api-version": API_VERSION}
    assert record.header("api-key") == KEY
    extra = result.model_extra or {}
    assert extra["prompt_filter_results"][0]["prompt_index"] == 0


async def test_azure_sdk_streaming_starts_with_filter_frame(
    azure_emu: AzureOpenAIEmulator,
) -> None:
    async with azure_client(azure_emu) as api:
        stream = await api.chat.completions.create(
            model="gpt-4o-prod",
            messages=MESSAGES,
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[0].choices == []
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Answer from gpt-4o-prod: hello azure")
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_azure_errors(azure_emu: AzureOpenAIEmulator) -> None:
    async with azure_client(azure_emu, key="nope") as bad:
        with pytest.raises(openai.AuthenticationError) as denied:
            await bad.chat.completions.create(model="gpt-4o-prod", messages=MESSAGES)
    body = denied.value.body
    assert isinstance(body, dict)
    assert body["code"] == "401"
    assert "Access denied" in body["message"]
    async with azure_client(azure_emu) as api:
        with pytest.raises(openai.NotFoundError) as missing:
            await api.chat.completions.create(model="other", messages=MESSAGES)
    assert missing.value.code == "DeploymentNotFound"
    async with httpx.AsyncClient() as http:
        no_version = await http.post(
            f"{azure_emu.url}/openai/deployments/gpt-4o-prod/chat/completions",
            headers={"api-key": KEY},
            json={"messages": MESSAGES},
        )
        no_messages = await http.post(
            f"{azure_emu.url}/openai/deployments/gpt-4o-prod/chat/completions",
            params={"api-version": API_VERSION},
            headers={"api-key": KEY},
            json={},
        )
    assert no_version.status_code == 404
    assert no_version.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["type"] == "invalid_request_error"


async def test_foundry_models_endpoint(foundry_emu: AzureFoundryEmulator) -> None:
    async with httpx.AsyncClient() as http:
        ok = await http.post(
            f"{foundry_emu.url}/chat/completions",
            params={"api-version": "2024-05-01-preview"},
            headers={"api-key": KEY},
            json={"model": "MAI-Code-1-Flash", "messages": MESSAGES, "max_tokens": 3},
        )
        unknown = await http.post(
            f"{foundry_emu.url}/chat/completions",
            params={"api-version": "2024-05-01-preview"},
            headers={"api-key": KEY},
            json={"model": "Phi-9", "messages": MESSAGES},
        )
        no_version = await http.post(
            f"{foundry_emu.url}/chat/completions",
            headers={"api-key": KEY},
            json={"model": "MAI-Code-1-Flash", "messages": MESSAGES},
        )
    assert ok.status_code == 200
    body = ok.json()
    assert body["model"] == "MAI-Code-1-Flash"
    assert body["choices"][0]["message"]["content"] == "Answer from MAI-Code-1-Flash:"
    assert body["choices"][0]["finish_reason"] == "length"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_model"
    assert no_version.status_code == 400
    assert no_version.json()["error"]["code"] == "MissingApiVersionParameter"


async def test_foundry_openai_compatible_paths(foundry_emu: AzureFoundryEmulator) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{foundry_emu.base_url}/v1", api_key=KEY, max_retries=0
    ) as api:
        result = await api.chat.completions.create(model="MAI-Code-1-Flash", messages=MESSAGES)
        with pytest.raises(openai.AuthenticationError):
            await api.with_options(api_key="bad").chat.completions.create(
                model="MAI-Code-1-Flash",
                messages=MESSAGES,
            )
    assert result.usage is not None
    assert result.usage.prompt_tokens == 2
    assert foundry_emu.requests[0].path == "/v1/chat/completions"
