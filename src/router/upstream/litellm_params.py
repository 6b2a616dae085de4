"""Which OpenAI parameters litellm can pass to a provider, asked of litellm itself
(``get_supported_openai_params``), so that none that changes the answer is dropped quietly."""

from __future__ import annotations

from typing import Any

from router.config.catalog import Deployment
from router.errors import InvalidRequest

# Parameters that change the answer: one the provider cannot take is refused by name (and
# dispatch tries the next deployment) rather than dropped by ``drop_params``, which would
# quietly answer a different question. The rest (user, metadata, service_tier, ...) only
# describe the request and may be dropped.
ANSWER_CHANGING = frozenset(
    {
        "n",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "audio",
        "modalities",
        "prediction",
        "web_search_options",
        "verbosity",
        "functions",
        "function_call",
        "response_format",
        "tools",
        "tool_choice",
        "stop",
        "reasoning_effort",
        "moderation",
    }
)


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
