"""``router replay LOG --config CANDIDATE``: read the log, replay it, print the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from router.config.check import load_checked
from router.offline import progress_bar, read_inputs
from router.requestlog.read import open_log
from router.requestlog.replay import Replay, replay
from router.requestlog.replay_report import render, summarise


def replay_main(
    log: str,
    config_path: Path,
    stdout: TextIO,
    stderr: TextIO,
    *,
    as_json: bool = False,
    seed: int = 0,
    examples: int = 3,
) -> int:
    inputs = read_inputs("router replay", config_path, load_checked, lambda: open_log(log), stderr)
    if inputs is None:
        return 2
    config, source = inputs
    # two passes: the log (profile and features), then a decision per request
    with progress_bar(2 * source.total, "router replay", stderr) as tick:
        try:
            result = replay(source, config, seed=seed, progress=tick)
        except OSError as exc:  # e.g. Redis went away mid-read
            print(f"router replay: reading {source.name}: {exc}", file=stderr)
            return 2
    notes = _notes(source.skipped.count, source.skipped.examples, result)
    strong = config.difficulty.strong if config.difficulty is not None else None
    report = summarise(result, source.name, str(config_path), notes, examples, strong)
    if as_json:
        print(json.dumps(report.as_json(), indent=1), file=stdout)
    else:
        print(render(report), file=stdout)
    return 0


def _notes(skipped: int, where: list[str], result: Replay) -> list[str]:
    notes = []
    if skipped:
        notes.append(f"{skipped} lines skipped, not request records ({'; '.join(where)})")
    if result.rescored:
        notes.append(f"difficulty re-scored from the captured prompt: {result.rescored} requests")
    if result.reused_difficulty:
        notes.append(
            f"{result.reused_difficulty} requests keep the difficulty scored live by a different "
            "signal than the candidate's (prompts not captured: log: {capture: prompts})"
        )
    if result.no_difficulty:
        notes.append(
            f"{result.no_difficulty} requests have no difficulty score (no signal live, prompt "
            "not captured): the candidate's difficulty conditions cannot match them"
        )
    return notes
