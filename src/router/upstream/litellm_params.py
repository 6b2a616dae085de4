"""Which OpenAI parameters litellm can pass to a provider, asked of litellm itself
(``get_supported_openai_params``), so that none that changes the answer is dropped quietly."""

from __future__ import annotations

from typing import Any

from router.config.catalog import ANSWER_CHANGING_NOT_IN_CLAUDE, Deployment
from router.errors import InvalidRequest

# Parameters that change the answer: one the provider cannot take is refused by name (and
# dispatch tries the next deployment) rather than dropped by ``drop_params``, which would
# quietly answer a different question. The rest (user, metadata, service_tier, ...) only
# describe the request and may be dropped.
ANSWER_CHANGING = ANSWER_CHANGING_NOT_IN_CLAUDE | {
    "response_format",
    "tools",
    "tool_choice",
    "stop",
    "reasoning_effort",
}


_NO_OP: dict[str, tuple[object, ...]] = {
    "n": (1,),
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "logprobs": (False,),
}


def _asks(name: str, value: object) -> bool:
    """``value`` asks for something (``n: 1`` or ``logprobs: false`` ask nothing)."""
    if value is None:
        return False
    # bool is an int to Python: false must not read as a no-op 0, nor 0 as false.
    same = (v for v in _NO_OP.get(name, ()) if isinstance(value, bool) == isinstance(v, bool))
    return not any(value == v for v in same)


def refuse_unsupported(
    lib: Any, deployment: Deployment, body: dict[str, Any], forwarded: frozenset[str]
) -> None:
    """Raise ``InvalidRequest`` (``unsupported_parameter``) naming the first parameter that
    changes the answer and that litellm would not pass to this provider."""
    asked = sorted(k for k in ANSWER_CHANGING if _asks(k, body.get(k)))
    if not asked:
        return
    supported = set(
        lib.get_supported_openai_params(
            model=deployment.model, custom_llm_provider=deployment.provider
        )
        or ()
    )
    for name in asked:
        if name not in supported or name not in forwarded:
            raise InvalidRequest(
                f"'{name}' cannot be sent to {deployment.provider} model {deployment.model}: "
                "the provider does not take it, and dropping it would change the answer",
                param=name,
                code="unsupported_parameter",
            )


def refuse_remote_urls(deployment: Deployment, body: dict[str, Any]) -> None:
    """An http(s) URL in a content part is the provider's to fetch, never router's; litellm
    downloads some (to inline them as base64 for providers that take no URLs), so through
    litellm only ``data:`` URIs are sent, and a remote URL is refused by name (dispatch then
    tries a deployment that passes URLs on as URLs)."""
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else ()):
            url = _part_url(part)
            if url is not None and not url.startswith("data:"):
                param = f"messages.{i}.content.{j}"
                raise InvalidRequest(
                    f"'{param}' links to a URL, which {deployment.provider} model "
                    f"{deployment.model} would have router download: send it as a data: URI",
                    param=param,
                    code="unsupported_parameter",
                )


def _part_url(part: Any) -> str | None:
    if not isinstance(part, dict):
        return None
    for key in ("image_url", "file", "input_audio", "video_url"):
        payload = part.get(key)
        if isinstance(payload, str):
            return payload
        if isinstance(payload, dict):
            for field in ("url", "file_url", "file_id", "file_data"):
                value = payload.get(field)
                if isinstance(value, str) and "://" in value[:16]:
                    return value
    return None
