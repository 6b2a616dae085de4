"""What the offline commands (``router eval``, ``router train``, ``router replay``) share: a
config and a data source read with one way of failing, and an optional progress bar.

Imports only the config's error type: the commands' own packages (``quality``,
``requestlog``) stay apart from each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, TypeVar

from router.config.yamlsrc import ConfigError

Progress = Callable[[int], None]  # called with the number of items just done

_Config = TypeVar("_Config")
_Data = TypeVar("_Data")


def read_inputs(
    command: str,
    config_path: Path,
    load: Callable[[Path], _Config],
    read: Callable[[], _Data],
    stderr: TextIO,
) -> tuple[_Config, _Data] | None:
    """The command's config and data, or ``None`` once stderr says which could not be read
    (the command then exits 2): an invalid config with its positions, an unreadable or
    unrecognised data source (``OSError``, ``ValueError``) with its message."""
    try:
        config = load(config_path)
    except ConfigError as exc:
        print(f"{command}: config at {config_path} is invalid:\n{exc}", file=stderr)
        return None
    try:
        data = read()
    except (OSError, ValueError) as exc:
        print(f"{command}: {exc}", file=stderr)
        return None
    return config, data


@contextmanager
def progress_bar(total: int, label: str, out: TextIO) -> Iterator[Progress]:
    """A tqdm bar on runs long enough to need one; none when tqdm is not installed (it comes
    with the ``eval`` extra, and ``router replay`` runs without it)."""
    try:
        from tqdm import tqdm
    except ImportError:
        yield lambda n: None
        return
    quiet = total < 2000 or not out.isatty()
    with tqdm(total=total, desc=label, file=out, disable=quiet, leave=False) as bar:
        yield bar.update
