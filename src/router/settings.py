"""Process settings from the environment, read once at start: where the config is, where to
listen. ``REDIS_URL`` and ``PROMETHEUS_MULTIPROC_DIR`` are read by ``create_app`` from the
environ it is given. Secrets are never read here: config names the variables that hold them,
and only the code that needs a key reads it, from the environ it was given."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from router.logs import LogFormat, LogSettings

# litellm fetches its price map from the internet at import unless told otherwise; router
# makes no outbound call except to configured upstreams, so this is set before any import.
# Forced, not defaults: an inherited LITELLM_LOCAL_MODEL_COST_MAP=False must not turn the
# remote fetch back on (a test sets exactly that and checks no socket leaves loopback).
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
}


def make_offline(environ: MutableMapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    env.update(OFFLINE_ENV)
    env.setdefault("LITELLM_LOG", "ERROR")


@dataclass(frozen=True)
class Settings:
    config_path: str = "policies"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    log_level: str = "info"
    log_format: str = "json"  # or "text", for people
    access_log: bool = True  # one line per request on the router.access logger
    log_prompts: bool = False  # the last user turn's text in access lines: only when asked

    def logging(self) -> LogSettings:
        fmt: LogFormat = "text" if self.log_format == "text" else "json"
        return LogSettings(self.log_level, fmt, self.access_log, self.log_prompts)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            config_path=env.get("ROUTER_CONFIG", d.config_path),
            host=env.get("ROUTER_HOST", d.host),
            port=int(env.get("ROUTER_PORT", d.port)),
            workers=int(env.get("ROUTER_WORKERS", d.workers)),
            log_level=env.get("ROUTER_LOG_LEVEL", d.log_level),
            log_format=env.get("ROUTER_LOG_FORMAT", d.log_format),
            access_log=_flag(env.get("ROUTER_ACCESS_LOG"), d.access_log),
            log_prompts=_flag(env.get("ROUTER_LOG_PROMPTS"), d.log_prompts),
        )


def _flag(raw: str | None, default: bool) -> bool:
    """``on/off``, ``true/false``, ``1/0``, ``yes/no``; unset or empty: the default."""
    if not raw:
        return default
    return raw.strip().lower() in ("1", "on", "true", "yes")
