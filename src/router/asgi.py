"""The app factory uvicorn imports in each worker (``router.asgi:app``, factory mode)."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi import FastAPI

from router.app import create_app
from router.settings import Settings


def app() -> FastAPI:
    application = create_app(Path(Settings.from_env().config_path))
    # Everything built so far (modules, config, catalog) lives for the whole process: move it
    # out of the collector's reach, so full collections stay short and rare under load.
    gc.collect()
    gc.freeze()
    return application
