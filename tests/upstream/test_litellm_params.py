"""Through litellm, a parameter that changes the answer and that the provider does not take
is refused by name, never dropped (``drop_params`` would answer a different question)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from router.config.catalog import Deployment
from router.errors import InvalidRequest
from router.upstream.litellm_adapter import FORWARDED_PARAMS
from router.upstream.litellm_params import refuse_unsupported
from support.upstream import TARGETS, deployment_for


@pytest.fixture(scope="module")
def litellm() -> Any:
    from router.upstream.litellm_adapter import import_litellm

    return import_litellm()


def _deepseek() -> Deployment:
    deployment = deployment_for(TARGETS[0], "http://127.0.0.1:9")
    return dataclasses.replace(deployment, provider="deepseek", model="deepseek-chat")


BODY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"moderation": {"policy": {}}}, "moderation"),  # litellm never forwards it
        ({"verbosity": "low"}, "verbosity"),  # DeepSeek does not take it
    ],
)
def test_a_parameter_the_provider_cannot_take_is_refused_by_name(
    litellm: Any, fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        refuse_unsupported(litellm, _deepseek(), {**BODY, **fields}, FORWARDED_PARAMS)
    assert refused.value.param == param
    assert refused.value.code == "unsupported_parameter"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"seed": 0, "n": 2, "logprobs": True},  # DeepSeek takes these
        {"n": 1, "presence_penalty": 0.0, "logprobs": False},  # no-op values ask nothing
        {"user": "u", "metadata": {"a": "b"}},  # descriptive, may be dropped
    ],
)
def test_what_the_provider_takes_passes(litellm: Any, fields: dict[str, Any]) -> None:
    refuse_unsupported(litellm, _deepseek(), {**BODY, **fields}, FORWARDED_PARAMS)
