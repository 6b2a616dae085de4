"""A body litellm cannot translate is the request's fault: the attempt is ``invalid`` (a
400 for the client, nothing held against the deployment), no request leaves router, and no
Python exception text reaches the message a client would read."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from upstream_support import TARGETS, Rig, ask, deployment_for

from router.emulators import Behaviour
from router.errors import AllAttemptsFailed, AttemptFailed
from router.upstream.failures import from_exception

# Shapes ingress refuses too; here they reach the adapter directly, as a shape ingress does
# not know yet would.
UNTRANSLATABLE: list[dict[str, Any]] = [
    {"tools": [{"type": "function", "function": 5}]},
    {"response_format": {"type": "json_schema", "json_schema": 5}},
    {"messages": [{"role": "user", "content": [{}]}]},
]
PYTHON_TEXT = ("object has no attribute", "is not subscriptable", "Traceback", "Error:")


@pytest.mark.parametrize("patch", UNTRANSLATABLE)
async def test_an_untranslatable_body_is_an_invalid_attempt(
    claude: Rig, patch: dict[str, Any]
) -> None:
    with pytest.raises(AttemptFailed) as failed:
        await claude.upstream.complete(claude.deployment(), {**ask(), **patch})
    error = failed.value.error
    assert error.kind == "invalid"
    assert error.client_fault
    assert not error.charged
    assert not error.retryable
    assert not any(text in error.message for text in PYTHON_TEXT), error.message
    assert claude.emu.requests == []
    answer = AllAttemptsFailed([error])
    assert answer.status == 400
    assert answer.code == "invalid_request"


@pytest.mark.parametrize("patch", UNTRANSLATABLE)
async def test_an_untranslatable_stream_is_an_invalid_attempt(
    claude: Rig, patch: dict[str, Any]
) -> None:
    with pytest.raises(AttemptFailed) as failed:
        await claude.upstream.stream(claude.deployment(), {**ask(), **patch})
    assert failed.value.error.kind == "invalid"
    assert claude.emu.requests == []


async def test_a_sent_request_that_fails_is_still_the_deployments(claude: Rig) -> None:
    claude.emu.plan(Behaviour(status=500), times=1)
    with pytest.raises(AttemptFailed) as failed:
        await claude.upstream.complete(claude.deployment(), ask())
    assert failed.value.error.kind == "status"
    assert failed.value.error.charged


def test_an_unexpected_exception_reads_as_no_python_text() -> None:
    deployment = deployment_for(TARGETS[0], "http://127.0.0.1:9")
    bug = AttributeError("'int' object has no attribute 'get'")
    error = from_exception(deployment, bug, None)
    assert error.kind == "protocol"
    assert not any(text in error.message for text in PYTHON_TEXT), error.message
    assert from_exception(deployment, aiohttp.ServerDisconnectedError(), None).kind == "protocol"
