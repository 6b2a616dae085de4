"""The app factory uvicorn imports in each worker (``router.asgi:app``, factory mode)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from router.app import create_app
from router.settings import Settings


def app() -> FastAPI:
    return create_app(Path(Settings.from_env().config_path))
