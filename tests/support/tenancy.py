"""Helpers for the tenancy end-to-end tests: a config directory on the session's emulators
with an ``auth:`` section of the test's choosing, and the official OpenAI SDK as the client."""

from __future__ import annotations

import os
from pathlib import Path

import openai

from router.demo import demo_config
from router.tenancy.keys import key_hash
from support.stack import Emulators

MASTER = "master-secret-for-tests"

POLICIES = """\
policies:
  coding:
    default: true
    rules:
      - name: any
        objective: cost
        candidates: [mai-code-1-flash, gpt-4o]
  premium:
    aliases: [best]
    rules:
      - name: best
        objective: quality
        candidates: [claude-sonnet, gpt-4o]
"""


def write_tenancy_config(directory: Path, emulators: Emulators, auth: str) -> Path:
    """``router.yaml`` (demo catalog + policies) and ``auth.yaml`` (the given section)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "router.yaml").write_text(
        demo_config(emulators.endpoints) + POLICIES, encoding="utf-8"
    )
    write_atomically(directory / "auth.yaml", auth)
    return directory


def key_line(name: str, key: str, extra: str = "") -> str:
    """One ``auth.keys`` entry, indented for a ``keys:`` list."""
    return f"    - {{name: {name}, hash: {key_hash(key)}{', ' + extra if extra else ''}}}\n"


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")  # not *.yaml: the loader ignores it
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def client(base_v1: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_v1, api_key=key, max_retries=0, timeout=10)


def ask(base_v1: str, key: str, model: str = "auto", **extra: object) -> str:
    with client(base_v1, key) as sdk:
        reply = sdk.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "hello"}],
            **extra,  # type: ignore[arg-type]
        )
    return reply.model
