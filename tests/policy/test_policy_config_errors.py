"""Every kind of policy config error, reported at its exact file:line:column with a hint."""

from __future__ import annotations

import textwrap

import pytest

from router.config.yamlsrc import ConfigIssue
from support.policy import CATALOG, policy_issues

HEAD = """\
policies:
  main:
    rules:
      - name: first
"""


def issues_for(text: str) -> list[ConfigIssue]:
    found: list[ConfigIssue] = []
    policy_issues(textwrap.dedent(text), CATALOG, found, name="p.yaml")
    return found


@pytest.mark.parametrize(
    ("body", "where", "message", "hint"),
    [
        # unknown key in a rule, with the closest allowed one
        (
            HEAD + "        candidates: [in-cheap]\n        objectiv: cost\n",
            "p.yaml:6:9",
            "unknown key 'objectiv'",
            "did you mean 'objective'?",
        ),
        # unknown key inside constraints
        (
            HEAD + "        candidates: [in-cheap]\n        constraints: {min_qualty: 0.5}\n",
            "p.yaml:6:23",
            "unknown key 'min_qualty'",
            "did you mean 'min_quality'?",
        ),
        # unknown model, with a suggestion and the list of models
        (
            HEAD + "        candidates: [in-cheap, out-chep]\n",
            "p.yaml:5:32",
            "unknown model or deployment 'out-chep'",
            "did you mean 'out-cheap'?",
        ),
        # a type error (reported at its key)
        (
            HEAD + "        candidates: [in-cheap]\n        constraints: {min_quality: high}\n",
            "p.yaml:6:23",
            "constraints.min_quality: Input should be a valid number",
            None,
        ),
        # an unknown task class
        (
            HEAD + "        when: {task: poetry}\n        candidates: [in-cheap]\n",
            "p.yaml:5:22",
            "when.task",
            None,
        ),
        # a split arm that is not a candidate
        (
            HEAD + "        candidates: [in-cheap]\n        split: {out-cheap: 1}\n",
            "p.yaml:6:17",
            "split arm 'out-cheap' is not one of this rule's candidates",
            "candidates: in-cheap",
        ),
        # a weight that is not a number (NaN would silently turn the split off)
        (
            HEAD + "        candidates: [in-cheap, out-cheap]\n        split: {in-cheap: .nan}\n",
            "p.yaml:6:17",
            "split.in-cheap: Input should be a finite number",
            None,
        ),
        # sticky without a split
        (
            HEAD + "        candidates: [in-cheap]\n        sticky: true\n",
            "p.yaml:4:9",
            "'sticky' only applies to a rule with a 'split'",
            None,
        ),
        # a header override the language does not know
        (
            "policies:\n  main:\n    overrides: [model]\n    rules:\n"
            "      - {name: r, candidates: [in-cheap]}\n",
            "p.yaml:3:17",
            "overrides.0",
            None,
        ),
        # a rule name used twice
        (
            HEAD
            + "        candidates: [in-cheap]\n"
            + "      - name: first\n        candidates: [in-cheap]\n",
            "p.yaml:6:9",
            "rule name 'first' is used twice",
            None,
        ),
        # a policy with the name of a model
        (
            "policies:\n  in-cheap:\n    rules:\n      - {name: r, candidates: [in-cheap]}\n",
            "p.yaml:2:3",
            "policy 'in-cheap' has the name of a model",
            "rename the policy",
        ),
        # missing rules
        (
            "policies:\n  main:\n    default: true\n",
            "p.yaml:3:5",
            "missing required key 'rules'",
            None,
        ),
    ],
)
def test_error_is_located(body: str, where: str, message: str, hint: str | None) -> None:
    found = issues_for(body)
    assert len(found) == 1, [str(i) for i in found]
    issue = found[0]
    assert str(issue.position) == where
    assert message in issue.message
    if hint is not None:
        assert issue.hint is not None
        assert hint in issue.hint


def test_two_defaults_and_alias_collisions() -> None:
    found = issues_for("""\
        policies:
          a:
            default: true
            aliases: [fast]
            rules: [{name: r, candidates: [in-cheap]}]
          b:
            default: true
            aliases: [fast, out-cheap, a]
            rules: [{name: r, candidates: [in-cheap]}]
        """)
    text = [(str(i.position), i.message) for i in found]
    assert ("p.yaml:7:5", "two default policies: 'a' and 'b'") in text
    assert ("p.yaml:8:15", "alias 'fast' is already used by policy 'a'") in text
    assert ("p.yaml:8:21", "alias 'out-cheap' is already used by a model") in text
    assert ("p.yaml:8:32", "alias 'a' is already used by policy 'a'") in text
    assert len(found) == 4


def test_every_problem_is_reported_not_just_the_first() -> None:
    found = issues_for(HEAD + "        candidates: [nope1, nope2]\n        fallbacks: [nope3]\n")
    assert [str(i.position) for i in found] == ["p.yaml:5:22", "p.yaml:5:29", "p.yaml:6:21"]
