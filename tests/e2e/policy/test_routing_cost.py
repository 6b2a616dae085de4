"""Objective ``cost`` end to end, with two models whose prices cross: ``reader`` has cheap
input and expensive output, ``writer`` the reverse. A short prompt (cost dominated by the
answer) goes to ``writer``, a long one (dominated by the prompt) to ``reader``; the billed
``x-router-cost-usd`` is the catalog price times the emulator's exact usage (whitespace words).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from router.demo import DEMO_KEY_ENV
from router.emulators import Behaviour
from support.routing import chat, explain, metric, routed, scrape, write_config
from support.stack import Emulators, RouterFactory

PRICES = {  # USD per million tokens: (input, output)
    "reader": (0.10, 10.0),
    "writer": (10.0, 0.10),
}
SEED_OUTPUT = 100  # expected output tokens before anything is learned
SHORT = "Suggest a name for a cat."
LONG = " ".join(f"word{i % 50}" for i in range(2000)) + " Summarise the text above."
REPLY_WORDS = {"reader": 30, "writer": 40}


def _config(emulators: Emulators) -> str:
    def model(name: str, deployment: str) -> str:
        inp, out = PRICES[name]
        return f"""\
  {name}:
    pricing: {{input_per_mtok: {inp}, output_per_mtok: {out}, source: test}}
    quality: {{general: 0.8}}
    expected_output_tokens: {{general: {SEED_OUTPUT}}}
    deployments:
{deployment}"""

    reader = f"""\
      - name: reader@openai
        provider: openai
        model: gpt-4o-mini
        base_url: {emulators.openai.url}
        api_key_env: {DEMO_KEY_ENV}
"""
    writer = f"""\
      - name: writer@azure
        provider: azure
        model: gpt-4o-mini
        base_url: {emulators.azure.url}
        api_version: "2024-10-21"
        api_key_env: {DEMO_KEY_ENV}
"""
    return f"""\
models:
{model("reader", reader)}{model("writer", writer)}
policies:
  thrifty:
    default: true
    rules:
      - name: cheapest
        objective: cost
        candidates: [reader, writer]
"""


def _price(model: str, prompt: int, completion: int) -> float:
    inp, out = PRICES[model]
    return (prompt * inp + completion * out) / 1e6


def _check_chain(decision: dict[str, Any], learned: dict[str, float]) -> None:
    """Every candidate's expected cost is prompt estimate x input price + expected output x
    output price, the expected output being the learned figure, else the catalog seed."""
    tokens = decision["prompt_tokens"]
    for cand in decision["chain"]:
        model = cand["model"]
        out = learned.get(model, SEED_OUTPUT)
        assert cand["expected_output_tokens"] == pytest.approx(out)
        assert cand["expected_cost_usd"] == pytest.approx(_price(model, tokens, 0) + _price(
            model, 0, 1) * out)  # fmt: skip


def test_prices_that_cross_route_short_and_long_prompts_differently(
    tmp_path: Path, emulators: Emulators, start_router: RouterFactory
) -> None:
    router = start_router(write_config(tmp_path / "c", emulators, _config(emulators)))
    emulators.openai.default = Behaviour(reply_words=REPLY_WORDS["reader"])
    emulators.azure.default = Behaviour(reply_words=REPLY_WORDS["writer"])

    # Before any traffic: the decision, priced from the catalog seeds.
    short = explain(router, content=SHORT).json()
    long = explain(router, content=LONG).json()
    assert [c["model"] for c in short["chain"]] == ["writer", "reader"]
    assert [c["model"] for c in long["chain"]] == ["reader", "writer"]
    _check_chain(short, {})
    _check_chain(long, {})
    assert long["prompt_tokens"] > 20 * short["prompt_tokens"]

    billed = {"reader": 0.0, "writer": 0.0}
    learned: dict[str, float] = {}
    for content, want in ((SHORT, "writer"), (LONG, "reader"), (SHORT, "writer")):
        resp = chat(router, "thrifty", content)
        deployment = routed(resp)
        assert resp.headers["x-router-model"] == want
        assert deployment == f"{want}@{'azure' if want == 'writer' else 'openai'}"
        assert resp.headers["x-router-policy"] == "thrifty"
        assert resp.headers["x-router-cost-basis"] == "actual"
        assert "objective=cost" in resp.headers["x-router-reason"]
        usage = resp.json()["usage"]
        assert usage["prompt_tokens"] == len(content.split())
        assert usage["completion_tokens"] == REPLY_WORDS[want]
        cost = _price(want, usage["prompt_tokens"], usage["completion_tokens"])
        assert math.isclose(float(resp.headers["x-router-cost-usd"]), cost, abs_tol=5e-9)
        billed[want] += cost
        got = REPLY_WORDS[want]
        learned[want] = got if want not in learned else 0.2 * got + 0.8 * learned[want]  # EWMA
        # What was served feeds the expected output of the next decisions.
        _check_chain(explain(router, content=content).json(), learned)

    text = scrape(router)
    for model, total in billed.items():
        got = metric(text, "router_cost_usd_total", policy="thrifty", model=model)
        assert got == pytest.approx(total)
