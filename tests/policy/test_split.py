"""Weighted splits (A/B): the caller's roll picks the arm; sticky splits hash the user."""

from __future__ import annotations

import pytest

from router.shapes import Principal
from support.policy import chat, policies, run, snapshot

SPLITS = policies("""
policies:
  ab:
    rules:
      - name: ab
        objective: quality
        candidates: [in-cheap, out-cheap]
        split: {in-cheap: 9, out-cheap: 1}
  sticky:
    rules:
      - name: ab
        candidates: [in-cheap, out-cheap]
        split: {in-cheap: 50, out-cheap: 50}
        sticky: true
""")


@pytest.mark.parametrize(
    ("roll", "arm", "first"),
    [
        (0.0, "in-cheap", "in-cheap@p1"),
        (0.89, "in-cheap", "in-cheap@p1"),
        (0.91, "out-cheap", "out-cheap@p1"),
        (0.999999, "out-cheap", "out-cheap@p1"),
    ],
)
def test_roll_picks_the_arm_by_weight(roll: float, arm: str, first: str) -> None:
    decision = run(SPLITS, chat(model_name="ab"), roll=roll)
    assert decision.split_arm == arm
    assert decision.chain[0].deployment.name == first
    assert decision.chain[0].role == "split"
    assert f"split={arm}" in decision.reason
    # the other arm stays in the chain as a fallback, in ranked order
    assert len(decision.chain) == 3


def test_an_arm_with_no_survivor_drops_out() -> None:
    signals = snapshot(open_=("out-cheap@p1",))
    decision = run(SPLITS, chat(model_name="ab"), roll=0.99, signals=signals)
    assert decision.split_arm == "in-cheap"


def test_sticky_split_ignores_the_roll_and_follows_the_user() -> None:
    arms = {
        run(SPLITS, chat(model_name="sticky", user="user-42"), roll=r).split_arm
        for r in (0.0, 0.3, 0.6, 0.99)
    }
    assert len(arms) == 1
    # without a user field, the API key's name is the sticky key
    by_key = {
        run(SPLITS, chat(model_name="sticky"), principal=Principal("key-7"), roll=r).split_arm
        for r in (0.0, 0.99)
    }
    assert len(by_key) == 1


def test_sticky_split_spreads_users_by_weight() -> None:
    picks = [
        run(SPLITS, chat(model_name="sticky", user=f"user-{i}")).split_arm for i in range(1000)
    ]
    share = picks.count("in-cheap") / len(picks)
    assert 0.45 < share < 0.55
