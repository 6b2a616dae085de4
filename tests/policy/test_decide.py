"""decide() as tables: request x policies x signals -> decision and reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from router.errors import InvalidRequest, NotFound
from router.policy.classify import classify
from router.policy.decide import NoHealthyDeployment
from router.shapes import Principal
from support.policy import CATALOG, catalog, chat, model, policies, run, snapshot

POLICIES = policies("""
policies:
  main:
    default: true
    overrides: [objective, task, max_cost]
    retry: {max_retries: 3}
    cache: {mode: read_only, ttl_s: 60}
    hedge: {delay_s: 0.5}
    deadline_s: 30
    rules:
      - name: code
        when: {task: code}
        objective: priority
        candidates: [in-cheap, out-cheap]
        constraints: {min_quality: 0.7, max_p95_latency_s: 2.0}
        fallbacks: [out-cheap]
      - name: by-cost
        objective: cost
        candidates: [in-cheap, out-cheap, plain]
  team-policy:
    select: {team: research}
    rules:
      - name: best
        objective: quality
        candidates: [in-cheap, out-cheap]
  header-policy:
    select: {headers: {x-tenant: acme}}
    rules:
      - name: fast
        objective: latency
        candidates: [in-cheap, out-cheap]
  pair:
    rules:
      - name: cheapest
        objective: cost
        candidates: [in-cheap, out-cheap]
  strict:
    rules:
      - name: only-code
        when: {task: code}
        candidates: [in-cheap]
""")

CODE = "Fix this bug:\n```python\ndef f(x): return x +\n```"
LONG = "word " * 20_000  # ~25k tokens: input price dominates


@pytest.mark.parametrize(
    ("text", "kwargs", "policy", "rule", "first"),
    [
        # code, no signals: listed order, first is in-cheap on its first provider
        (CODE, {}, "main", "code", "in-cheap@p1"),
        # p1 of in-cheap has an open circuit: its second deployment answers
        (CODE, {"signals": snapshot(open_=("in-cheap@p1",))}, "main", "code", "in-cheap@p2"),
        # both in-cheap deployments slow: out-cheap fails min_quality, but is the fallback
        (
            CODE,
            {"signals": snapshot(p95={"in-cheap@p1": 3.0, "in-cheap@p2": 2.5})},
            "main",
            "code",
            "out-cheap@p1",
        ),
        # short general prompt: output price dominates -> out-cheap
        ("Hello there", {}, "main", "by-cost", "out-cheap@p1"),
        # very long prompt: input price dominates -> in-cheap
        (LONG, {}, "main", "by-cost", "in-cheap@p1"),
        # a team key selects its policy; quality for general: out-cheap (0.8) wins
        (
            "Hello",
            {"principal": Principal("k", team="research")},
            "team-policy",
            "best",
            "out-cheap@p1",
        ),
        # a header selects its policy; lowest p95 wins
        (
            "Hello",
            {
                "headers": {"x-tenant": "acme"},
                "signals": snapshot(
                    p95={"in-cheap@p1": 0.2, "in-cheap@p2": 0.9, "out-cheap@p1": 0.5}
                ),
            },
            "header-policy",
            "fast",
            "in-cheap@p1",
        ),
        # the task override header sends a general prompt down the code rule
        ("Hello", {"headers": {"x-router-task": "code"}}, "main", "code", "in-cheap@p1"),
        # the objective override makes a short prompt pick by quality (in-cheap is 0.7 vs 0.8)
        (
            "Hello",
            {"headers": {"x-router-objective": "quality"}},
            "main",
            "by-cost",
            "out-cheap@p1",
        ),
    ],
)
def test_decision_table(text, kwargs, policy, rule, first):  # type: ignore[no-untyped-def]
    decision = run(POLICIES, chat(text), **kwargs)
    assert (decision.policy, decision.rule, decision.chain[0].deployment.name) == (
        policy,
        rule,
        first,
    )
    assert f"{policy}/{rule}" in decision.reason
    assert first in decision.reason


def test_cost_routing_crosses_with_prompt_size() -> None:
    short = run(POLICIES, chat("Hi"))
    long = run(POLICIES, chat(LONG))
    assert short.model == "out-cheap"
    assert long.model == "in-cheap"
    by_name = {c.deployment.name: c for c in short.chain}
    # expected cost = prompt x input price + expected output (seed 500) x output price
    tokens = short.prompt_tokens
    assert tokens is not None
    assert by_name["in-cheap@p1"].expected_cost_usd == pytest.approx(
        tokens * 0.10e-6 + 500 * 10.0e-6
    )
    assert by_name["out-cheap@p1"].expected_cost_usd == pytest.approx(
        tokens * 5.0e-6 + 500 * 0.50e-6
    )


def test_learned_output_tokens_and_max_tokens_change_the_cost() -> None:
    # a ~100-token prompt: with the seeded 500 output tokens out-cheap is cheaper, but once
    # both models are observed to answer in 5 tokens, in-cheap's input price wins
    learned = snapshot(output_tokens={("in-cheap", "general"): 5.0, ("out-cheap", "general"): 5.0})
    medium = "word " * 80
    assert run(POLICIES, chat(medium, model_name="pair")).model == "out-cheap"
    decision = run(POLICIES, chat(medium, model_name="pair"), signals=learned)
    assert decision.chain[0].expected_output_tokens == 5.0
    assert decision.model == "in-cheap"  # with tiny outputs, input price decides
    capped = run(POLICIES, chat(medium, model_name="pair", max_tokens=5))
    assert capped.chain[0].expected_output_tokens == 5.0
    assert capped.model == "in-cheap"


def test_decision_carries_policy_settings_and_is_repeatable() -> None:
    request = chat(CODE)
    first = run(POLICIES, request, roll=0.3)
    again = run(POLICIES, request, roll=0.3)
    assert first == again
    assert first.retry.max_retries == 3
    assert first.cache.mode == "read_only"
    assert first.cache.ttl_s == 60
    assert first.hedge is not None
    assert first.hedge.delay_s == 0.5
    assert first.deadline_s == 30
    assert first.task == "code"
    assert first.objective == "priority"


def test_reason_is_one_ascii_line() -> None:
    decision = run(POLICIES, chat(CODE), signals=snapshot(open_=("in-cheap@p1",)))
    assert decision.reason.isascii()
    assert "\n" not in decision.reason
    assert "2 excluded" in decision.reason  # p1's open circuit, out-cheap's quality


def test_exclusions_name_each_deployment_and_why() -> None:
    signals = snapshot(open_=("in-cheap@p1",), p95={"in-cheap@p2": 2.5})
    decision = run(POLICIES, chat(CODE), signals=signals)
    reasons = {e.deployment: (e.kind, e.reason) for e in decision.excluded}
    assert reasons["in-cheap@p1"] == ("signal", "circuit open")
    assert reasons["in-cheap@p2"] == ("signal", "p95 latency 2.50s > max 2s")
    assert reasons["out-cheap@p1"] == ("policy", "quality 0.6 < min 0.7 for code")
    assert [c.role for c in decision.chain] == ["fallback"]


def test_missing_capability_is_excluded_as_a_request_problem() -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    decision = run(POLICIES, chat("Hello", tools=tools))
    assert ("plain@p1", "lacks tools", "request") in {
        (e.deployment, e.reason, e.kind) for e in decision.excluded
    }
    assert all(c.deployment.name != "plain@p1" for c in decision.chain)


def test_prompt_too_long_for_every_candidate_is_a_400_listing_each() -> None:
    with pytest.raises(InvalidRequest) as info:
        run(POLICIES, chat("Hi", max_tokens=500_000))
    message = info.value.message
    for dep in ("in-cheap@p1", "in-cheap@p2", "out-cheap@p1", "plain@p1"):
        assert f"{dep}: context window" in message
    assert info.value.code == "no_eligible_deployment"


def test_all_circuits_open_is_a_503_listing_each() -> None:
    every = tuple(CATALOG.deployments)
    with pytest.raises(NoHealthyDeployment) as info:
        run(POLICIES, chat("Hello"), signals=snapshot(open_=every))
    assert info.value.status == 503
    for dep in every:
        assert f"{dep}: circuit open" in info.value.message


def test_max_cost_header_excludes_expensive_candidates() -> None:
    decision = run(POLICIES, chat(LONG), headers={"x-router-max-cost": "0.02"})
    assert {c.deployment.logical_model for c in decision.chain} == {"in-cheap"}
    reasons = {e.deployment: e.reason for e in decision.excluded}
    assert reasons["out-cheap@p1"].startswith("expected cost $")
    assert reasons["out-cheap@p1"].endswith("> max $0.02")
    assert reasons["plain@p1"].startswith("context window 8000 <")


@pytest.mark.parametrize(
    ("model_name", "headers", "param"),
    [
        ("strict", {"x-router-objective": "cost"}, "x-router-objective"),  # not allowed
        ("auto", {"x-router-objective": "cheapest"}, "x-router-objective"),  # invalid value
        ("auto", {"x-router-task": "poetry"}, "x-router-task"),
        ("auto", {"x-router-max-cost": "-1"}, "x-router-max-cost"),
        ("auto", {"x-router-max-cost": "nan"}, "x-router-max-cost"),
        ("in-cheap", {"x-router-task": "code"}, "x-router-task"),  # direct has no policy
    ],
)
def test_bad_override_headers_are_refused_by_name(model_name, headers, param):  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequest) as info:
        run(POLICIES, chat(CODE, model_name=model_name), headers=headers)
    assert info.value.param == param
    assert param in info.value.message


def test_unknown_model_lists_models_and_policies() -> None:
    with pytest.raises(NotFound) as info:
        run(POLICIES, chat(model_name="gpt-9"))
    for name in ("in-cheap", "out-cheap", "auto", "main", "strict"):
        assert name in info.value.message


def test_no_matching_rule_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as info:
        run(POLICIES, chat("Hello", model_name="strict"))
    assert info.value.code == "no_matching_rule"


def test_explicit_policy_name_ignores_selectors() -> None:
    decision = run(
        POLICIES, chat(CODE, model_name="main"), principal=Principal("k", team="research")
    )
    assert decision.policy == "main"


def test_direct_model_skips_open_circuits_in_order() -> None:
    decision = run(POLICIES, chat(model_name="in-cheap"), signals=snapshot(open_=("in-cheap@p1",)))
    assert decision.policy == "direct"
    assert [c.deployment.name for c in decision.chain] == ["in-cheap@p2"]
    assert decision.excluded[0].reason == "circuit open"
    with pytest.raises(NoHealthyDeployment):
        run(
            POLICIES,
            chat(model_name="in-cheap"),
            signals=snapshot(open_=("in-cheap@p1", "in-cheap@p2")),
        )


def test_half_open_deployment_stays_in_the_chain() -> None:
    from router.signals import DeploymentStats, SignalSnapshot

    half = SignalSnapshot({"in-cheap@p1": DeploymentStats(circuit="half_open")})
    decision = run(POLICIES, chat(CODE), signals=half)
    assert decision.chain[0].deployment.name == "in-cheap@p1"


def test_latency_objective_tries_unmeasured_deployments_first() -> None:
    # Optimistic about the unknown: an unmeasured deployment is explored until measured.
    signals = snapshot(p95={"out-cheap@p1": 1.5, "in-cheap@p2": 0.4})
    decision = run(POLICIES, chat("Hello"), headers={"x-tenant": "acme"}, signals=signals)
    assert [c.deployment.name for c in decision.chain] == [
        "in-cheap@p1",
        "in-cheap@p2",
        "out-cheap@p1",
    ]
    # Once measured, it competes on its numbers: slower than in-cheap@p2, faster than p1.
    measured = snapshot(p95={"out-cheap@p1": 1.5, "in-cheap@p2": 0.4, "in-cheap@p1": 0.9})
    decision = run(POLICIES, chat("Hello"), headers={"x-tenant": "acme"}, signals=measured)
    assert [c.deployment.name for c in decision.chain] == [
        "in-cheap@p2",
        "in-cheap@p1",
        "out-cheap@p1",
    ]


def test_an_output_cap_above_the_models_own_limit_does_not_exclude_it() -> None:
    """Claude Code asks every model for up to 128000 output tokens; a model that can write
    only 16384 needs room for the prompt and those, not for the client's ceiling."""
    limited = model("limited", input_mtok=1.0, output_mtok=1.0, quality={"general": 0.9},
                    context=128_000)  # fmt: skip
    capped = replace(
        limited, deployments=(replace(limited.deployments[0], max_output_tokens=16_384),)
    )
    rules = """
policies:
  only:
    default: true
    rules:
      - name: all
        candidates: [limited]
"""
    for known, excluded in ((limited, True), (capped, False)):
        cat = catalog(known)
        request = chat("Hi", max_tokens=128_000)
        if excluded:
            with pytest.raises(InvalidRequest, match=r"limited@p1: context window 128000 <"):
                run(policies(rules, cat), request, cat=cat)
        else:
            assert (
                run(policies(rules, cat), request, cat=cat).chain[0].deployment.name == "limited@p1"
            )


def test_expected_cost_counts_every_one_of_n_choices() -> None:
    one = run(POLICIES, chat(LONG, max_tokens=1000))
    many = run(POLICIES, chat(LONG, max_tokens=1000, n=128))
    first = one.chain[0]
    same = next(c for c in many.chain if c.deployment == first.deployment)
    prompt = first.deployment.price.cost(classify(chat(LONG)).prompt_tokens, 0)
    assert first.expected_cost_usd is not None
    assert same.expected_cost_usd is not None
    written = first.expected_cost_usd - prompt
    assert same.expected_cost_usd == pytest.approx(prompt + 128 * written)


def test_a_cost_cap_holds_for_n_choices() -> None:
    # Affordable once, not 128 times: a client cannot slip under max_cost with n.
    cap = {"x-router-max-cost": "0.05"}
    assert run(POLICIES, chat(LONG, max_tokens=100), headers=cap).chain
    with pytest.raises(InvalidRequest) as refused:
        run(POLICIES, chat(LONG, max_tokens=100, n=128), headers=cap)
    assert "expected cost $" in refused.value.message
