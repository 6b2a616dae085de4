"""The app factory uvicorn imports in each worker (``router.asgi:app``, factory mode)."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi import FastAPI

from router.app import create_app
from router.logs import configure
from router.settings import Settings
from router.tracing import tracing_from_env


def app() -> FastAPI:
    settings = Settings.from_env()
    configure(settings.logging())  # each worker is its own process with its own handlers
    application = create_app(
        Path(settings.config_path), logs=settings.logging(), tracing=tracing_from_env()
    )
    # Everything built so far (modules, config, catalog) lives for the whole process: move it
    # out of the collector's reach, so full collections stay short and rare under load.
    gc.collect()
    gc.freeze()
    return application
