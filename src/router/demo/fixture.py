"""A small catalog of the three demo models on loopback emulators, for tests and benchmarks.

``router demo`` itself runs the shipped ``policies/`` (see :mod:`router.demo.emulate`); this
catalog is the fixture the test suites and benches build their own policies on. Its
MAI-Code-1-Flash price is the shipped one, so no figure here contradicts ``policies/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_KEY_ENV = "ROUTER_DEMO_PROVIDER_KEY"


@dataclass(frozen=True, slots=True)
class Endpoints:
    openai: str  # OpenAI emulator, ".../v1"
    azure: str  # Azure OpenAI emulator root
    foundry: str  # Azure AI Foundry emulator, ".../models"
    anthropic: str  # Anthropic emulator root


def demo_config(endpoints: Endpoints, key_env: str = DEMO_KEY_ENV) -> str:
    """A catalog of the three demo models, every deployment on an emulator."""
    return f"""\
# Test catalog (router.demo.fixture): every deployment points at a loopback emulator.
server:
  baseline_model: gpt-4o
models:
  mai-code-1-flash:
    description: Microsoft MAI-Code-1-Flash on Azure AI Foundry (emulated)
    pricing: {{input_per_mtok: 0.75, output_per_mtok: 4.50, source: "as policies/models.yaml"}}
    context_window: 256000  # as policies/models.yaml
    capabilities: [tools, json_mode]
    quality: {{code: 0.82, reasoning: 0.7, general: 0.7}}
    deployments:
      - name: mai-code-1-flash@foundry
        provider: azure_ai
        model: MAI-Code-1-Flash
        base_url: {endpoints.foundry}
        api_key_env: {key_env}
  gpt-4o:
    quality: {{code: 0.85, reasoning: 0.85, general: 0.88}}
    deployments:
      - name: gpt-4o@openai
        provider: openai
        model: gpt-4o
        base_url: {endpoints.openai}
        api_key_env: {key_env}
      - name: gpt-4o@azure
        provider: azure
        model: gpt-4o
        base_url: {endpoints.azure}
        api_key_env: {key_env}
        api_version: "2024-10-21"
  claude-sonnet:
    quality: {{code: 0.88, reasoning: 0.88, general: 0.87}}
    deployments:
      - name: claude-sonnet@anthropic
        provider: anthropic
        model: claude-sonnet-4-5
        base_url: {endpoints.anthropic}
        api_key_env: {key_env}
"""


def write_demo_config(directory: Path, endpoints: Endpoints) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "router.yaml"
    path.write_text(demo_config(endpoints), encoding="utf-8")
    return path
