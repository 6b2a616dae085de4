"""Usage -> cost, and savings against a baseline model: what the same tokens would have cost
there. Prices are per token, taken from the catalog (litellm's bundled map or config)."""

from __future__ import annotations

from dataclasses import dataclass

from router.config.catalog import Catalog, Deployment
from router.shapes import Usage


@dataclass(frozen=True, slots=True)
class Bill:
    cost_usd: float
    baseline: str | None = None
    baseline_cost_usd: float | None = None

    @property
    def savings_usd(self) -> float | None:
        if self.baseline_cost_usd is None:
            return None
        return self.baseline_cost_usd - self.cost_usd


def bill(
    catalog: Catalog, deployment: Deployment, usage: Usage | None, baseline: str | None
) -> Bill:
    if usage is None:
        return Bill(0.0, baseline, None)
    cost = deployment.price.cost(usage.prompt_tokens, usage.completion_tokens)
    base_model = catalog.get(baseline) if baseline else None
    if base_model is None:
        return Bill(cost)
    base_cost = base_model.price.cost(usage.prompt_tokens, usage.completion_tokens)
    return Bill(cost, base_model.name, base_cost)
