"""Several uvicorn workers, one ``/metrics``: each worker writes its values to mmap files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape merges them (see the package docstring)."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Final

from prometheus_client import values

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


def enable_multiprocess_values(path: str, environ: MutableMapping[str, str]) -> None:
    """Make this process write metric values to mmap files under ``path``.

    prometheus_client picks its value backend once per process, from the environment,
    when it is first imported. A worker forked from a parent that imported it before
    ``router serve`` set the variable would keep in-memory values that ``/metrics``
    never sees, so align the backend here; the choice is per process by nature.
    ``environ`` is the process environment (injected; prometheus_client reads it there).
    """
    current = environ.get(MULTIPROC_ENV)
    if current is not None and os.path.realpath(current) != os.path.realpath(path):
        raise ValueError(f"{MULTIPROC_ENV}={current!r} disagrees with multiprocess_dir={path!r}")
    # The mmap backend reads the directory from the environment when it opens files.
    environ[MULTIPROC_ENV] = path
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
