"""``router eval`` and ``router train``: read the data set, run, write the outputs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TextIO

from router.config.load import Config, load_config
from router.offline import progress_bar, read_inputs
from router.quality import holdout, routellm
from router.quality.outcomes import Dataset, read_jsonl
from router.quality.simulate import prepare

SPLITS = ("test", "train", "all")
TRAIN_COMMAND = "uv run router train ../shared/data/routellm -o policies/difficulty.json"


def load_dataset(path: Path, strong: str | None = None, weak: str | None = None) -> Dataset:
    if routellm.is_routellm(path):
        return routellm.load(path, strong or routellm.DEFAULT_STRONG, weak or routellm.DEFAULT_WEAK)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    raise ValueError(f"{path}: neither a RouteLLM data directory nor a .jsonl outcome file")


def sample(dataset: Dataset, size: int | None, seed: int) -> Dataset:
    """A fixed sample (same seed, same prompts), spread over the benchmarks in proportion."""
    if size is None or size >= len(dataset.outcomes):
        return dataset
    ranked = sorted(dataset.outcomes, key=lambda o: holdout.rank(seed, o.id))[:size]
    keep = {o.id for o in ranked}
    name = f"{dataset.name} (fixed sample of {size}, seed {seed})"
    return dataset.subset([o for o in dataset.outcomes if o.id in keep], name)


def eval_main(
    data: Path,
    config_path: Path,
    out_dir: Path,
    stdout: TextIO,
    stderr: TextIO,
    *,
    split: str = "test",
    size: int | None = None,
    seed: int = holdout.SEED,
    policies: list[str] | None = None,
    write_quality: Path | None = None,
) -> int:
    from router.quality.plot import draw
    from router.quality.report import evaluate, render

    started = time.monotonic()
    inputs = read_inputs(
        "router eval", config_path, load_config, lambda: load_dataset(data), stderr
    )
    if inputs is None:
        return 2
    config, full = inputs
    chosen = _split(full, split, seed)
    chosen = sample(chosen, size, seed)
    names = policies or list(config.policies.policies)
    unknown = [p for p in names if p not in config.policies.policies]
    if unknown:
        print(f"router eval: unknown policies: {', '.join(unknown)}", file=stderr)
        return 2
    mt_bench = full.subset(o for o in full.outcomes if o.category is not None)
    sweeps = sum(1 for p in names if _sweepable(config, p))
    total = len(chosen.outcomes) * (2 + len(names) + 41 * sweeps) + len(mt_bench.outcomes)
    with progress_bar(total, "router eval", stderr) as tick:
        cases = prepare(chosen, config.catalog, config.difficulty, tick)
        labelled = prepare(mt_bench, config.catalog, None, tick)
        report = evaluate(chosen, cases, config, names, chosen.name, seed, tick, labelled)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(report.as_json(), indent=1) + "\n")
    draw(report, out_dir / "cost_quality.png")
    print(render(report), file=stdout)
    print(
        f"\nwrote {out_dir / 'eval.json'} and {out_dir / 'cost_quality.png'} "
        f"in {time.monotonic() - started:.1f}s",
        file=stdout,
    )
    if write_quality is not None:
        from router.quality.write_quality import write_measured

        write_measured(write_quality, cases, chosen, stdout)
    return 0


def _sweepable(config: Config, policy: str) -> bool:
    from router.quality.simulate import sweepable

    return sweepable(config, policy)


def _split(dataset: Dataset, split: str, seed: int) -> Dataset:
    if split == "all":
        return dataset
    parts = holdout.split(dataset, seed)
    return parts.test if split == "test" else parts.train


def train_main(data: Path, out: Path, stdout: TextIO, *, seed: int = holdout.SEED) -> int:
    from router.quality.train import fit, save

    started = time.monotonic()
    try:
        parts = holdout.split(load_dataset(data), seed)
    except (OSError, ValueError) as exc:
        print(f"router train: {exc}", file=stdout)
        return 2
    command = TRAIN_COMMAND if seed == holdout.SEED else f"{TRAIN_COMMAND} --seed {seed}"
    model = save(fit(parts, command).export, out)
    print(
        f"trained on {len(parts.train.outcomes)} prompts ({parts.train.mapping_note()}), "
        f"held out {len(parts.test.outcomes)} (MMLU subjects: "
        f"{', '.join(parts.held_out_groups)}); {len(model.word_values)} words, "
        f"{len(model.char_weights)} 4-grams, {len(model.bigram_weights)} bigrams; mean "
        f"difficulty {model.mean_difficulty:.3f}; wrote {out} in "
        f"{time.monotonic() - started:.1f}s",
        file=stdout,
    )
    return 0
