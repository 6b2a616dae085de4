"""An adapter that cannot handle a request is the request's fault: the attempt is
``invalid`` (a 400 for the client, nothing held against the deployment), no request leaves
router, and no Python exception text reaches the message a client would read."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from router.config.catalog import Deployment
from router.dispatch.attempts import AttemptOutcome
from router.dispatch.dispatcher import Dispatcher
from router.dispatch.hedge import HedgeOutcome
from router.emulators import Behaviour
from router.errors import AllAttemptsFailed, AttemptFailed, InvalidRequest
from router.policy.decision import Candidate, Decision
from router.upstream import ChunkStream, Completion
from router.upstream.failures import from_exception
from support.upstream import TARGETS, Rig, ask, deployment_for

# Shapes ingress refuses too; here they reach the adapter directly, as a shape ingress does
# not know yet would.
UNTRANSLATABLE: list[dict[str, Any]] = [
    {"tools": [{"type": "function", "function": 5}]},
    {"response_format": {"type": "json_schema", "json_schema": 5}},
    {"messages": [{"role": "user", "content": [{}]}]},
]
PYTHON_TEXT = ("object has no attribute", "is not subscriptable", "Traceback", "Error:")


@pytest.mark.parametrize("patch", UNTRANSLATABLE)
async def test_litellm_failing_on_a_body_is_an_invalid_attempt(
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
async def test_litellm_failing_on_a_stream_body_is_an_invalid_attempt(
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


class _Choking:
    """An adapter whose translation fails: a refusal by name, or a bug on an odd shape."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def complete(self, deployment: Deployment, body: dict[str, Any]) -> Completion:
        raise self.exc

    async def stream(self, deployment: Deployment, body: dict[str, Any]) -> ChunkStream:
        raise self.exc

    async def aclose(self) -> None:
        return None


class _Heard:
    def __init__(self) -> None:
        self.outcomes: list[AttemptOutcome] = []

    def may_try(self, deployment: Deployment) -> bool:
        return True

    def attempt_finished(self, outcome: AttemptOutcome) -> None:
        self.outcomes.append(outcome)

    def hedge_finished(self, outcome: HedgeOutcome) -> None:
        return None

    def recent_p95(self, deployment: Deployment, stream: bool) -> float | None:
        return None


@pytest.mark.parametrize("stream", [False, True])
async def test_any_adapter_failure_before_an_answer_is_the_requests_fault(stream: bool) -> None:
    a = deployment_for(TARGETS[0], "http://127.0.0.1:9")
    decision = Decision("p", "r", (Candidate(a),), "test")
    heard = _Heard()
    dispatcher = Dispatcher(_Choking(TypeError("'int' object is not subscriptable")), heard)
    call = dispatcher.stream if stream else dispatcher.complete
    with pytest.raises(AllAttemptsFailed) as failed:
        await call(decision, {})
    assert failed.value.status == 400
    assert "subscriptable" not in failed.value.message
    assert [o.error.kind for o in heard.outcomes if o.error] == ["invalid"]
    assert len(heard.outcomes) == 1  # tried once: no retry, no fallback

    refusing = Dispatcher(_Choking(InvalidRequest("no", param="tools[0].type")), heard)
    with pytest.raises(InvalidRequest) as refused:
        await refusing.complete(decision, {})
    assert refused.value.param == "tools[0].type"  # the adapter's own 400 goes out as is
    assert heard.outcomes[-1].error is not None
    assert not heard.outcomes[-1].error.charged
