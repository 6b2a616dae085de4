"""Shared pieces for tenancy unit tests (tests/tenancy): a config from YAML text, a recording
observer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from router.config.load import Config, load_config

CATALOG = """\
models:
  small:
    pricing: {input_per_mtok: 1000, output_per_mtok: 2000}
    deployments:
      - {name: small@a, provider: openai, model: s, base_url: "http://127.0.0.1:9"}
  big:
    pricing: {input_per_mtok: 5000, output_per_mtok: 10000}
    deployments:
      - {name: big@a, provider: openai, model: b, base_url: "http://127.0.0.1:9"}
policies:
  p:
    default: true
    rules: [{name: r, objective: priority, candidates: [small, big]}]
"""


def config_from(tmp_path: Path, text: str, catalog: str = CATALOG) -> Config:
    (tmp_path / "c.yaml").write_text(catalog + text)
    return load_config(tmp_path)


@dataclass
class Recorder:
    refusals: list[tuple[str, str, str]] = field(default_factory=list)
    store_errors: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    spend: list[tuple[str, str, float]] = field(default_factory=list)
    budgets: dict[str, float] = field(default_factory=dict)

    def refused(self, scope: str, name: str, limit: str) -> None:
        self.refusals.append((scope, name, limit))

    def store_error(self, on_error: str) -> None:
        self.store_errors.append(on_error)

    def redis_error(self, operation: str) -> None:
        self.store_errors.append(f"redis:{operation}")

    def deployment_skipped(self, deployment: str, limit: str) -> None:
        self.skipped.append((deployment, limit))

    def spent(self, team: str, key: str, usd: float) -> None:
        self.spend.append((team, key, usd))

    def budget_used(self, scope: str, name: str, period: str, used_usd: float) -> None:
        self.budgets[f"{scope}:{name}:{period}"] = used_usd
