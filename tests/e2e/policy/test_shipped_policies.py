"""The shipped ``policies/`` directory, through the real command line: ``router check``
passes, ``router serve`` starts on it without any provider key, and ``router explain``
prints the decision for a request."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from support.routing import SHIPPED, run_cli, serving

CODE = "Fix this bug:\n```python\ndef f(x): return x +\n```"
CODE_REQUEST = {"model": "auto", "messages": [{"role": "user", "content": CODE}]}
CAT_REQUEST = {"model": "auto", "messages": [{"role": "user", "content": "Suggest a cat name."}]}
POLICY_NAMES = {"coding", "research", "experiment", "cheap", "fast", "claude-code"}


def test_router_check_passes_on_the_shipped_policies() -> None:
    done = run_cli("check", "policies")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("ok: 3 models, 8 policies, ")
    passed = [line for line in lines if line.startswith("PASS ")]
    assert len(passed) >= 10
    assert not [line for line in lines if line.startswith("FAIL")]


def test_router_check_fails_on_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / "policies"
    broken.mkdir()
    for f in SHIPPED.glob("*.yaml"):
        (broken / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    text = (broken / "routing.yaml").read_text(encoding="utf-8")
    (broken / "routing.yaml").write_text(
        text.replace("[mai-code-1-flash, gpt-4o]", "[mai-code-1-flash, gpt-4o-turbo]"),
        encoding="utf-8",
    )
    done = run_cli("check", str(broken))
    assert done.returncode == 1
    assert "routing.yaml:" in done.stdout
    assert "unknown model or deployment 'gpt-4o-turbo'" in done.stdout


def test_router_serve_starts_on_the_shipped_policies_without_provider_keys() -> None:
    with serving(SHIPPED) as (proc, base):
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["config"]["last_reload_error"] is None
        # Without keys nothing can be called, and router says so instead of trying.
        unusable = ready.json()["deployments"]["unusable"]
        assert unusable == {
            "claude-sonnet@anthropic": "its key variable ANTHROPIC_API_KEY is unset",
            "gpt-4o@azure": "base_url still has the placeholder 'YOUR-RESOURCE'",
            "gpt-4o@openai": "its key variable OPENAI_API_KEY is unset",
            "mai-code-1-flash@azure_ai": "base_url still has the placeholder 'YOUR-RESOURCE'",
            "mai-code-1-flash@compat": "its key variable OPENROUTER_API_KEY is unset",
        }
        ids = {m["id"] for m in httpx.get(f"{base}/v1/models", timeout=5).json()["data"]}
        assert ids >= POLICY_NAMES | {"auto", "budget", "mai-code-1-flash", "gpt-4o"}
        resp = httpx.post(f"{base}/v1/router/explain", json=CODE_REQUEST, timeout=10)
        assert resp.status_code == 503, resp.text
        message = resp.json()["error"]["message"]
        for name, why in unusable.items():
            assert f"{name}: {why}" in message
        assert proc.poll() is None


def test_with_one_provider_key_the_others_stay_out_of_routing() -> None:
    with serving(SHIPPED, OPENAI_API_KEY="sk-test-not-a-real-key-000") as (_proc, base):
        resp = httpx.post(f"{base}/v1/router/explain", json=CODE_REQUEST, timeout=10)
        assert resp.status_code == 200, resp.text
        decision = resp.json()
        assert [c["deployment"] for c in decision["chain"]] == ["gpt-4o@openai"]
        excluded = {e["deployment"]: (e["reason"], e["kind"]) for e in decision["excluded"]}
        assert excluded["mai-code-1-flash@azure_ai"] == (
            "base_url still has the placeholder 'YOUR-RESOURCE'",
            "config",
        )
        assert excluded["claude-sonnet@anthropic"][0].endswith("ANTHROPIC_API_KEY is unset")


def test_router_explain_prints_the_decision() -> None:
    done = run_cli("explain", "--config", "policies", json.dumps(CODE_REQUEST))
    assert done.returncode == 0, done.stdout + done.stderr
    decision = json.loads(done.stdout)
    assert (decision["policy"], decision["rule"], decision["task"]) == ("coding", "code", "code")
    chain = [c["deployment"] for c in decision["chain"]]
    assert chain[0] == "mai-code-1-flash@azure_ai"
    assert chain[-2:] == ["gpt-4o@azure", "claude-sonnet@anthropic"]
    assert decision["reason"].startswith("coding/code: task=code objective=priority -> ")
    assert decision["excluded"] == []


def test_router_explain_takes_headers_and_stdin() -> None:
    done = run_cli("explain", "--config", "policies", "-H", "x-router-task: code",
                   json.dumps(CAT_REQUEST))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rule"] == "code"

    done = run_cli("explain", "--config", "policies", "-H", "x-experiment: sonnet-ab", "-",
                   stdin=json.dumps(CAT_REQUEST))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["policy"] == "experiment"


def test_router_explain_prints_an_error_as_json() -> None:
    request = {**CAT_REQUEST, "model": "gpt-5"}
    done = run_cli("explain", "--config", "policies", json.dumps(request))
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["status"] == 404
    assert "mai-code-1-flash" in error["error"]["message"]


def test_router_explain_as_documented() -> None:
    done = run_cli("explain", "policies/", json.dumps(CODE_REQUEST))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rule"] == "code"
