"""The request headers that override a policy's routing (``x-router-task``,
``x-router-objective``, ``x-router-max-cost``): which ones a policy allows, their values, and
which took effect (part of the cache key).
"""

from __future__ import annotations

from collections.abc import Mapping

from router.config.schema import TASK_CLASSES
from router.errors import InvalidRequest
from router.policy.model import Objective, Policy
from router.wire import header_number

OBJECTIVE_HEADER = "x-router-objective"
TASK_HEADER = "x-router-task"
MAX_COST_HEADER = "x-router-max-cost"
_SINGLE_OBJECTIVES = ("cost", "latency", "quality", "priority")


def read_overrides(
    policy: Policy, headers: Mapping[str, str]
) -> tuple[str | None, Objective | None, float | None]:
    """The override headers ``policy`` allows, parsed: (task, objective, max cost), each None
    when its header is absent. A header the policy does not allow, or a bad value, is a 400."""
    task = objective = max_cost = None
    for header, kind in ((TASK_HEADER, "task"), (OBJECTIVE_HEADER, "objective"),
                         (MAX_COST_HEADER, "max_cost")):  # fmt: skip
        raw = headers.get(header)
        if raw is None:
            continue
        if kind not in policy.overrides:
            raise InvalidRequest(
                f"header {header!r} is not allowed by policy {policy.name!r}",
                param=header,
                code="override_not_allowed",
            )
        value = raw.strip().lower()
        if kind == "task" and value in TASK_CLASSES:
            task = value
        elif kind == "objective" and value in _SINGLE_OBJECTIVES:
            objective = Objective(value, () if value == "priority" else ((value, 1.0),))
        elif kind == "max_cost" and (amount := header_number(value)) is not None:
            max_cost = amount
        else:
            allowed = {
                "task": ", ".join(TASK_CLASSES),
                "objective": ", ".join(_SINGLE_OBJECTIVES),
                "max_cost": "a number of US dollars >= 0",
            }[kind]
            raise InvalidRequest(
                f"invalid value {raw!r} for header {header!r}: expected {allowed}",
                param=header,
                code="invalid_header",
            )
    return task, objective, max_cost


def applied_overrides(
    task: str | None, objective: Objective | None, max_cost: float | None
) -> tuple[tuple[str, str], ...]:
    """The override headers that changed this decision, as (header, value) in a fixed order."""
    out = []
    if task is not None:
        out.append((TASK_HEADER, task))
    if objective is not None:
        out.append((OBJECTIVE_HEADER, objective.label))
    if max_cost is not None:
        out.append((MAX_COST_HEADER, f"{max_cost:g}"))
    return tuple(out)
