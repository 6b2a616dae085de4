"""The catalog: logical models, their deployments, prices, context windows, capabilities and
quality scores, resolved once at load.

Prices and context windows come from litellm's *bundled* price map (read as a file from the
installed package, so nothing is fetched and litellm is not imported), overridable in config,
and required in config where the map does not know the model (MAI-Code-1-Flash is not in it).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.config.raw import Entry
from router.config.schema import (
    TASK_CLASSES,
    DeploymentSpec,
    LatencyProfile,
    LimitSpec,
    ModelSpec,
    Timeouts,
)
from router.config.yamlsrc import ConfigIssue

# Providers the OpenAI-compatible hot-path adapter speaks directly (Anthropic has its own).
OPENAI_COMPATIBLE = frozenset({"openai", "azure", "azure_ai", "openai_compatible"})
ANTHROPIC = "anthropic"  # the native Anthropic adapter; every other provider goes to litellm
# OpenAI parameters that change the answer and that Claude has no equivalent for (litellm's
# ``upstream.litellm_params.ANSWER_CHANGING`` starts from these).
ANSWER_CHANGING_NOT_IN_CLAUDE = frozenset(
    {
        "n",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "audio",
        "modalities",
        "prediction",
        "web_search_options",
        "verbosity",
        "functions",
        "function_call",
        "moderation",
    }
)
# What Claude has no equivalent for (``translate.openai_to_anthropic.unsupported`` refuses the
# same, by name, as the last line of defence): the above, whether the provider stores the
# completion, and two values (a temperature above 1, ``response_format: json_object``).
CLAUDE_CANNOT_HONOUR = ANSWER_CHANGING_NOT_IN_CLAUDE | {
    "store",
    "temperature_above_1",
    "json_object",
}
# Capabilities assumed when neither config nor the price map says otherwise.
_DEFAULT_CAPABILITIES = frozenset({"streaming"})
_PRICE_MAP = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True, slots=True)
class Price:
    input_per_token: float
    output_per_token: float
    source: str

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens * self.input_per_token + output_tokens * self.output_per_token


@dataclass(frozen=True, slots=True)
class Deployment:
    name: str
    logical_model: str
    provider: str
    model: str
    base_url: str | None
    api_key_env: str | None
    api_version: str | None
    price: Price
    timeouts: Timeouts
    limits: LimitSpec | None = None  # the provider's quota, enforced by tenancy
    # The model's own cap on output tokens (config, else litellm's price map), if known:
    # Anthropic requires max_tokens, and a client's cap above this means the same as this.
    max_output_tokens: int | None = None

    @property
    def openai_compatible(self) -> bool:
        return self.provider in OPENAI_COMPATIBLE

    @property
    def cannot_honour(self) -> frozenset[str]:
        """Request parameters (``policy.classify.demands_of`` names) this deployment's provider
        cannot honour: routing leaves it out for a request that sets one, instead of sending
        the request without it. Providers litellm serves are checked when called."""
        return CLAUDE_CANNOT_HONOUR if self.provider == ANTHROPIC else frozenset()

    @property
    def speaks_messages(self) -> bool:
        """Claude on Anthropic's own API: takes an Anthropic Messages request unchanged."""
        return self.provider == ANTHROPIC


@dataclass(frozen=True, slots=True)
class LogicalModel:
    name: str
    description: str | None
    deployments: tuple[Deployment, ...]
    price: Price  # of the first deployment: the model's list price
    context_window: int | None
    capabilities: frozenset[str]
    quality: dict[str, float]
    quality_source: str | None
    expected_output_tokens: dict[str, int]
    latency: LatencyProfile | None = None  # offline estimates only (eval, replay)

    def quality_for(self, task: str) -> float | None:
        return self.quality.get(task, self.quality.get("general"))


@dataclass(frozen=True, slots=True)
class Catalog:
    models: dict[str, LogicalModel]
    deployments: dict[str, Deployment]

    def get(self, name: str) -> LogicalModel | None:
        return self.models.get(name)


@functools.cache
def litellm_price_map() -> dict[str, Any]:
    """litellm's bundled price map, read from the installed package (no import, no network)."""
    # find_spec locates the package without importing it (importing litellm takes seconds).
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / _PRICE_MAP
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def _map_entry(spec: DeploymentSpec) -> dict[str, Any] | None:
    table = litellm_price_map()
    keys = [spec.price_key] if spec.price_key else [f"{spec.provider}/{spec.model}", spec.model]
    for key in keys:
        entry = table.get(key) if key else None
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return entry
    return None


def build_catalog(specs: dict[str, tuple[ModelSpec, Entry]], issues: list[ConfigIssue]) -> Catalog:
    models: dict[str, LogicalModel] = {}
    deployments: dict[str, Deployment] = {}
    for name, (spec, entry) in specs.items():
        built: list[Deployment] = []
        map_caps: set[str] = set()
        context: int | None = spec.context_window
        for i, dspec in enumerate(spec.deployments):
            where = ("deployments", i)
            known = _map_entry(dspec)
            price = _price(name, spec, known, dspec)
            if price is None:
                issues.append(
                    ConfigIssue(
                        entry.locate(where),
                        f"no price for {dspec.provider}/{dspec.model}: litellm's price map "
                        "does not know it",
                        "add 'pricing: {input_per_mtok: ..., output_per_mtok: ...}' to the "
                        "model, or 'price_key' naming a known model",
                    )
                )
                continue
            if known:
                map_caps |= _caps_from_map(known)
                context = context or known.get("max_input_tokens")
            dep_name = dspec.name or f"{name}@{dspec.provider}"
            if dep_name in deployments or any(d.name == dep_name for d in built):
                issues.append(
                    ConfigIssue(
                        entry.locate(where),
                        f"deployment name {dep_name!r} is used twice",
                        "give each deployment a unique 'name'",
                    )
                )
                continue
            built.append(
                Deployment(
                    name=dep_name,
                    logical_model=name,
                    provider=dspec.provider,
                    model=dspec.model,
                    base_url=dspec.base_url.rstrip("/") if dspec.base_url else None,
                    api_key_env=dspec.api_key_env,
                    api_version=dspec.api_version,
                    price=price,
                    timeouts=dspec.timeouts,
                    limits=dspec.limits,
                    max_output_tokens=spec.max_output_tokens or _max_output(known),
                )
            )
        for task in spec.quality:
            if task not in TASK_CLASSES:
                issues.append(
                    ConfigIssue(
                        entry.locate(("quality", task)),
                        f"unknown task class {task!r}",
                        f"task classes: {', '.join(TASK_CLASSES)}",
                    )
                )
        if not built:
            continue
        caps = set(spec.capabilities) if spec.capabilities is not None else map_caps
        if "json_mode" in caps:  # both kinds of JSON answer; a model may list just one
            caps |= {"json_object", "json_schema"}
        models[name] = LogicalModel(
            name=name,
            description=spec.description,
            deployments=tuple(built),
            price=built[0].price,
            context_window=context,
            capabilities=frozenset(caps | _DEFAULT_CAPABILITIES),
            quality=dict(spec.quality),
            quality_source=spec.quality_source,
            expected_output_tokens=dict(spec.expected_output_tokens),
            latency=spec.latency,
        )
        deployments.update((d.name, d) for d in built)
    return Catalog(models, deployments)


def _price(
    name: str, spec: ModelSpec, known: dict[str, Any] | None, dspec: DeploymentSpec
) -> Price | None:
    if spec.pricing is not None:
        return Price(
            spec.pricing.input_per_mtok / 1e6,
            spec.pricing.output_per_mtok / 1e6,
            spec.pricing.source or f"config: models.{name}.pricing",
        )
    if known is None:
        return None
    return Price(
        float(known["input_cost_per_token"]),
        float(known.get("output_cost_per_token") or 0.0),
        f"litellm price map: {dspec.price_key or dspec.model}",
    )


def _max_output(entry: dict[str, Any] | None) -> int | None:
    value = (entry or {}).get("max_output_tokens") or (entry or {}).get("max_tokens")
    return value if isinstance(value, int) and value > 0 else None


def _caps_from_map(entry: dict[str, Any]) -> set[str]:
    caps = set()
    if entry.get("supports_function_calling"):
        caps.add("tools")
    if entry.get("supports_vision"):
        caps.add("vision")
    if entry.get("supports_response_schema"):
        caps.add("json_mode")
    return caps
