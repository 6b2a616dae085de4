"""The whole-policy lint ``router check`` runs after ``load_config``: what no single entry
shows. Rules that can never fire or never be reached, constraints no candidate can meet, a
policy that leaves some requests without a rule, split weights that do not add up, a
``select`` naming a team no key belongs to, a ``roll`` on a sticky split in a test case.

Each finding is a located ``ConfigIssue`` (``file:line:column: message``, with a hint).
"""

from __future__ import annotations

from collections.abc import Iterable

from router.config.catalog import Catalog
from router.config.load import Config
from router.config.raw import Entry
from router.config.schema import TASK_CLASSES
from router.config.yamlsrc import ConfigIssue
from router.policy.classify import MESSAGE_OVERHEAD_TOKENS
from router.policy.model import Match, Rule, flags_allow


def lint_policies(config: Config) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    entries = config.raw.named.get("policies", {})
    for policy in config.policies.policies.values():
        entry = entries[policy.name]
        for i, rule in enumerate(policy.rules):
            at = ("rules", i)
            never = never_true(rule.match)
            if never:
                issues.append(
                    ConfigIssue(
                        entry.locate((*at, "when")), f"rule {rule.name!r} can never match: {never}"
                    )
                )
            for earlier in policy.rules[:i]:
                if covers(earlier.match, rule.match):
                    issues.append(
                        ConfigIssue(
                            entry.locate(at),
                            f"rule {rule.name!r} is unreachable: rule {earlier.name!r} "
                            f"({earlier.where}) matches every request it would",
                            f"move {rule.name!r} above {earlier.name!r}, or narrow "
                            f"{earlier.name!r}'s 'when'",
                        )
                    )
                    break
            issues.extend(_impossible(rule, config.catalog, entry, at))
    return issues


def never_true(match: Match) -> str | None:
    if match.tasks is not None and not match.tasks:
        return "an empty task list"
    if match.teams is not None and not match.teams:
        return "an empty team list"
    if match.tags is not None and not match.tags:
        return "an empty tag list"
    lo, hi = match.min_prompt_tokens, match.max_prompt_tokens
    if lo is not None and hi is not None and lo > hi:
        return f"min_prompt_tokens {lo} > max_prompt_tokens {hi}"
    return None


def covers(a: Match, b: Match) -> bool:
    """True when every request that ``b`` matches is also matched by ``a``."""

    def within(outer: frozenset[str] | None, inner: frozenset[str] | None) -> bool:
        return outer is None or (inner is not None and inner <= outer)

    if not (within(a.tasks, b.tasks) and within(a.teams, b.teams) and within(a.tags, b.tags)):
        return False
    b_headers = dict(b.headers)
    for name, want in a.headers:
        if name not in b_headers or (want != "*" and b_headers[name] != want):
            return False
    if not flags_allow(a.flags, b.flags):
        return False
    ranges = (
        (a.min_prompt_tokens, a.max_prompt_tokens, b.min_prompt_tokens, b.max_prompt_tokens),
        (a.min_difficulty, a.max_difficulty, b.min_difficulty, b.max_difficulty),
        (
            a.min_difficulty_per_cost,
            a.max_difficulty_per_cost,
            b.min_difficulty_per_cost,
            b.max_difficulty_per_cost,
        ),
    )
    for a_lo, a_hi, b_lo, b_hi in ranges:
        if a_lo is not None and (b_lo is None or b_lo < a_lo):
            return False
        if a_hi is not None and (b_hi is None or b_hi > a_hi):
            return False
    return True


def _impossible(
    rule: Rule, catalog: Catalog, entry: Entry, at: tuple[str | int, ...]
) -> list[ConfigIssue]:
    """Constraints that no candidate can meet for any request the rule matches."""
    out: list[ConfigIssue] = []
    c = rule.constraints
    models = {d.logical_model: catalog.models[d.logical_model] for d in rule.candidates}
    where = (*at, "constraints")
    if c.min_quality is not None:
        for task in sorted(rule.match.tasks or TASK_CLASSES):
            best = max((m.quality_for(task) or 0.0 for m in models.values()), default=0.0)
            if best < c.min_quality:
                out.append(
                    ConfigIssue(
                        entry.locate((*where, "min_quality")),
                        f"min_quality {c.min_quality:g} is above every candidate's {task} quality "
                        f"(best {best:g})",
                        "lower the floor, or add a better candidate",
                    )
                )
    if c.max_cost_usd is not None:
        prompt = max(rule.match.min_prompt_tokens or 0, MESSAGE_OVERHEAD_TOKENS + 1)
        cheapest = min(d.price.cost(prompt, 1) for d in rule.candidates)
        if cheapest > c.max_cost_usd:
            out.append(
                ConfigIssue(
                    entry.locate((*where, "max_cost_usd")),
                    f"max_cost_usd {c.max_cost_usd:g} is below the cheapest possible request "
                    f"(${cheapest:.8f})",
                )
            )
    needed = set(c.require)
    needed |= {
        cap
        for cap, flag in (
            ("tools", rule.match.tools),
            ("vision", rule.match.images),
            ("json_mode", rule.match.json_mode),
        )
        if flag
    }
    for cap in sorted(needed):
        if not any(cap in m.capabilities for m in models.values()):
            out.append(
                ConfigIssue(
                    entry.locate(at),
                    f"rule {rule.name!r} needs capability {cap!r}, which no candidate has",
                    f"candidates: {', '.join(models)}",
                )
            )
    windows = [m.context_window for m in models.values()]
    lo = rule.match.min_prompt_tokens
    if lo is not None and all(w is not None and w < lo for w in windows):
        out.append(
            ConfigIssue(
                entry.locate((*at, "when", "min_prompt_tokens")),
                f"min_prompt_tokens {lo} exceeds every candidate's context window",
            )
        )
    return out


# -- warnings: legal, but rarely what was meant ----------------------------------------------

_FLAGS = ("stream", "tools", "images", "json_mode")


def lint_warnings(config: Config) -> list[ConfigIssue]:
    """Findings that do not stop router from serving, but that ``router check`` reports and
    ``router serve`` logs: requests no rule takes, split weights that do not add up to 100, a
    ``select`` naming a team no key belongs to, a split meeting a shared cache."""
    issues: list[ConfigIssue] = []
    entries = config.raw.named.get("policies", {})
    teams = {k.team for k in config.auth.keys if k.team} | set(config.auth.teams)
    for policy in config.policies.policies.values():
        entry = entries[policy.name]
        missed = fall_through(policy.rules)
        if missed:
            issues.append(
                ConfigIssue(
                    entry.locate(("rules",)),
                    f"policy {policy.name!r} has no rule for every request: {missed} fall "
                    "through (answered 400 no_matching_rule)",
                    "end the rules with one that has no 'when', if that is not meant",
                )
            )
        issues.extend(_split_sums(entry))
        mode = policy.cache.mode
        for i, rule in enumerate(policy.rules):
            if rule.split and (mode.reads or mode.writes):
                issues.append(
                    ConfigIssue(
                        entry.locate(("rules", i, "split")),
                        f"rule {rule.name!r} splits traffic in a policy whose cache is "
                        f"{mode.value}: each arm keeps its own entries (the arm is part of "
                        "the cache key), so a team shares answers only within one arm",
                        "turn the cache off for the experiment, if comparing arms matters",
                    )
                )
        wanted = policy.select.teams if policy.select is not None else None
        for team in sorted((wanted or frozenset()) - teams):
            issues.append(
                ConfigIssue(
                    entry.locate(("select",)),
                    f"policy {policy.name!r} selects team {team!r}, which no key belongs to",
                    f"teams: {', '.join(sorted(teams)) or '(none)'}",
                )
            )
    return issues


def fall_through(rules: tuple[Rule, ...]) -> str | None:
    """Which requests no rule matches, in words; None when some rule takes every request.
    Only task and the request's shape are enumerated; a rule that also asks for a team, tag,
    header, size or difficulty is counted as taking nothing for sure."""
    if any(r.match.catch_all for r in rules):
        return None
    plain = [r.match for r in rules if _shape_only(r.match)]
    graded = [r.match for r in rules if _shape_only(r.match, difficulty=True)]
    missed: list[str] = []
    for task in TASK_CLASSES:
        holes = [
            combo
            for combo in _combos()
            if not any(_takes(m, task, combo) for m in plain)
            and not _spans(m for m in graded if _takes(m, task, combo))
        ]
        if len(holes) == len(_combos()):
            missed.append(f"{task} requests")
        elif holes:
            missed.append(f"{task} requests {_common(holes)}")
    return "; ".join(missed) or None


def _shape_only(m: Match, *, difficulty: bool = False) -> bool:
    """No condition beyond task and shape; with ``difficulty``, one on difficulty too."""
    return (
        m.teams is None
        and m.tags is None
        and not m.headers
        and m.min_prompt_tokens is None
        and m.max_prompt_tokens is None
        and m.uses_difficulty == difficulty
        and not m.uses_difficulty_per_cost
    )


def _spans(matches: Iterable[Match]) -> bool:
    """The difficulty ranges together cover all of [0, 1] (with the signal configured, every
    request gets a difficulty)."""
    reach = 0.0
    for lo, hi in sorted((m.min_difficulty or 0.0, m.max_difficulty or 1.0) for m in matches):
        if lo > reach:
            return False
        reach = max(reach, hi)
    return reach >= 1.0


def _combos() -> list[tuple[bool, ...]]:
    return [tuple(bool(n >> i & 1) for i in range(len(_FLAGS))) for n in range(2 ** len(_FLAGS))]


def _takes(m: Match, task: str, combo: tuple[bool, ...]) -> bool:
    if m.tasks is not None and task not in m.tasks:
        return False
    wants = (m.stream, m.tools, m.images, m.json_mode)
    return all(w is None or w == got for w, got in zip(wants, combo, strict=True))


def _common(holes: list[tuple[bool, ...]]) -> str:
    """What the missed requests share, in words: "with stream, no tools"."""
    shared = [
        f"{'' if holes[0][i] else 'no '}{flag}"
        for i, flag in enumerate(_FLAGS)
        if all(h[i] == holes[0][i] for h in holes)
    ]
    return "with " + ", ".join(shared) if shared else "of some shapes"


def _split_sums(entry: Entry) -> list[ConfigIssue]:
    rules = entry.data.get("rules") if isinstance(entry.data, dict) else None
    out = []
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        split = rule.get("split") if isinstance(rule, dict) else None
        if not isinstance(split, dict) or not split:
            continue
        total = sum(w for w in split.values() if isinstance(w, int | float))
        if abs(total - 100) > 1e-9:
            out.append(
                ConfigIssue(
                    entry.locate(("rules", i, "split")),
                    f"split weights add up to {total:g}, not 100: each arm gets its weight "
                    f"divided by {total:g}",
                    "write the weights as percentages that add up to 100",
                )
            )
    return out
