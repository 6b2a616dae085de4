"""Rewrite a config so that every deployment is served by a loopback emulator.

``router demo`` runs the policies a user would run in production (``policies/`` or
``--config DIR``), unchanged but for where each deployment lives: its ``base_url`` becomes
the emulator that speaks its provider's wire format, and its key the emulators' fixed one.
Names, prices, quality scores, policies and policy tests stay as written, so the demo routes
exactly as the real config would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from router.config.raw import config_files
from router.demo.fixture import DEMO_KEY_ENV, Endpoints

# provider -> which emulator speaks its wire format
_EMULATOR_FOR: dict[str, str] = {
    "openai": "openai",
    "openai_compatible": "openai",
    "azure": "azure",
    "azure_ai": "foundry",
    "anthropic": "anthropic",
}


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What happened to one deployment."""

    deployment: str  # its name, unchanged
    provider: str  # as configured
    was: str  # the configured base_url (or "provider default")
    emulator: str  # openai | azure | foundry | anthropic
    url: str  # where it points now


def emulate(source: Path, dest: Path, endpoints: Endpoints) -> list[Rewrite]:
    """Copy the config at ``source`` into ``dest``, every deployment on an emulator.

    Validate ``source`` first (``load_checked``): errors must name the user's files, not
    the rewritten copies.
    """
    dest.mkdir(parents=True, exist_ok=True)
    rewrites: list[Rewrite] = []
    for file in config_files(source):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        models = data.get("models") if isinstance(data, dict) else None
        if isinstance(models, dict):
            for logical, model in models.items():
                for deployment in model.get("deployments") or []:
                    rewrites.append(_rewrite(str(logical), deployment, endpoints))
        server = data.get("server") if isinstance(data, dict) else None
        if isinstance(server, dict) and server.get("difficulty_model"):
            # files beside the YAML (the learned signal) stay where they are
            base = source if source.is_dir() else source.parent
            server["difficulty_model"] = str((base / server["difficulty_model"]).resolve())
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        header = f"# router demo: {file.name} with every deployment on a loopback emulator\n"
        (dest / file.name).write_text(header + text, encoding="utf-8")
    return rewrites


def _rewrite(logical: str, deployment: dict[str, Any], endpoints: Endpoints) -> Rewrite:
    provider = str(deployment["provider"])
    # The default name depends on the provider: pin it before the provider may change.
    name = str(deployment.get("name") or f"{logical}@{provider}")
    emulator = _EMULATOR_FOR.get(provider)
    if emulator is None:
        # Any other litellm provider: the OpenAI emulator stands in, priced as configured.
        emulator = "openai"
        deployment["provider"] = "openai_compatible"
        deployment.setdefault("price_key", f"{provider}/{deployment['model']}")
    url = str(getattr(endpoints, emulator))
    was = str(deployment.get("base_url") or "provider default")
    deployment["name"] = name
    deployment["base_url"] = url
    deployment["api_key_env"] = DEMO_KEY_ENV
    return Rewrite(name, provider, was, emulator, url)
