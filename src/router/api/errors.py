"""Which error shape an answer takes: Anthropic's (``{"type": "error", "error": {"type",
"message"}}``) on the Messages routes, so the ``anthropic`` SDK and Claude Code read router's
errors as they read Anthropic's; OpenAI's everywhere else."""

from __future__ import annotations

from typing import Any

from router.errors import RouterError

MESSAGES_PATH = "/v1/messages"


def speaks_anthropic(path: str) -> bool:
    return path == MESSAGES_PATH or path.startswith(MESSAGES_PATH + "/")


def error_body(error: RouterError, path: str) -> dict[str, Any]:
    return error.anthropic_body() if speaks_anthropic(path) else error.body()
