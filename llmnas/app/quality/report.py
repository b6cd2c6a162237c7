"""The LLM-quality sweep's report, from ``runs.jsonl`` alone: ``quality.md``.

Per benchmark (and budget) one row per method and LLM quality, then each method's
``use_llm=False`` ablation and the built-ins: the evaluations to reach the table's top 0.1 %
by the searched metric (median over the seeds that got there, and how many of all did), the
reported metric (``report_metric``, e.g. test accuracy, of the best-by-``search_metric``
configuration) at the budget, its difference from the method's own ablation on the seeds both
ran (points; in brackets the seeds won–lost) and the LLM calls per evaluation; then the same
two verdicts as method × quality tables. Runs of other LLMs (the embedded-model comparison)
are left out: they have their own report (``results.md``).

Example:
    >>> quality_markdown([]).splitlines()[0]
    '# LLM-quality sweep'
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..contenders import OUR_METHODS
from ..records import RUNS_FILE, options_of, read_runs
from ..report import Group, _fmt, _versus, group_runs
from .llm import STATELESS

__all__ = ["QUALITY_FILE", "QUALITY_PREFIX", "is_quality_run", "quality_markdown", "tolerance", "write_quality_report"]

logger = logging.getLogger(__name__)

QUALITY_FILE = "quality.md"
QUALITY_PREFIX = "quality:"
"""The LLM key of a run with the quality-controlled fake: ``quality:<quality>``."""
_QUALITY_ORDER = tuple(q + suffix for suffix in ("", STATELESS) for q in ("expert", "middle", "uninformed", "misleading"))
_METHODS = list(OUR_METHODS)
_BAD_QUALITIES = tuple(q + suffix for suffix in ("", STATELESS) for q in ("middle", "uninformed", "misleading"))
TPE, RANDOM = "tpe@optuna", "random@optuna"
"""The built-ins whose gap sets a table's tolerance (:func:`tolerance`)."""


def is_quality_run(run: Mapping[str, Any]) -> bool:
    """Whether a record belongs to the sweep: a run with the fake LLM, or one without any LLM."""
    llm = str(run.get("llm", "none"))
    return llm == "none" or llm.startswith(QUALITY_PREFIX)


def _quality(group: Group) -> str:
    return group.llm[len(QUALITY_PREFIX):] if group.llm.startswith(QUALITY_PREFIX) else "–"


def _repeats(group: Group) -> str:
    """The LLM's repeated answers per 100 evaluations ("–" for runs recorded before they were counted)."""
    if any("llm_repeats" not in r for r in group.runs):
        return "–"
    return f"{100 * group.per_evaluation('llm_repeats'):.1f}"


def _reached(group: Group) -> str:
    median, hits = group.reached("evals_to_top")
    return f"{_fmt(median, 1 if median is not None and median % 1 else 0)} ({hits}/{len(group.runs)})"


def _section(benchmark: str, budget: int, groups: Sequence[Group]) -> list[str]:
    first = groups[0].runs[0]
    search, report = first["search_metric"], first["report_metric"]
    maximize = first.get("report_direction", "maximize") == "maximize"
    scale = max((abs(g.at(budget)[0]) for g in groups if math.isfinite(g.at(budget)[0])), default=100.0)
    digits = 2 if scale >= 10 else 4
    ours = sorted((g for g in groups if g.kind == "ours"), key=lambda g: (
        _METHODS.index(g.method) if g.method in _METHODS else len(_METHODS), g.contender,
        _QUALITY_ORDER.index(_quality(g)) if _quality(g) in _QUALITY_ORDER else len(_QUALITY_ORDER)))
    qualities = [q for q in _QUALITY_ORDER if any(_quality(g) == q for g in ours)]
    lines = [f"## {benchmark} (budget {budget})", "",
             f"Search on `{search}`; reported: `{report}` of the best-by-`{search}` configuration after {budget} "
             f"evaluations (mean over seeds). Top 0.1 % = the best {first['top_count']} of {first['table_size']} "
             f"by `{search}`. Δ: the method's mean minus its own `use_llm=False` ablation's on the seeds both ran "
             "(positive: the LLM helped) ± the standard error of that mean (of the per-seed differences: "
             "a Δ within about two of them of zero is the seeds' noise), in brackets the seeds won–lost. Repeats: the LLM's answers that were "
             "already tried or running, per 100 evaluations.", "",
             f"| contender | LLM quality | seeds | evals to top 0.1 % | `{report}` @{budget} | Δ vs its ablation | "
             "LLM calls / eval | repeats / 100 evals |", "|---|---|---|---|---|---|---|---|"]
    verdict: dict[tuple[str, str], tuple[str, str]] = {}
    for group in ours:
        own = group.ablation(groups)
        delta = _versus(group, own, budget, maximize, spread=True) if own is not None else "–"
        verdict[(group.contender, _quality(group))] = (_reached(group), delta)
        lines.append(f"| {group.contender} | {_quality(group)} | {len(group.runs)} | {_reached(group)} | "
                     f"{_fmt(group.at(budget)[0], digits)} | {delta} | {group.per_evaluation('llm_calls'):.2f} | "
                     f"{_repeats(group)} |")
    for group in (g for g in groups if g.kind != "ours"):
        lines.append(f"| {group.contender} | no LLM | {len(group.runs)} | {_reached(group)} | "
                     f"{_fmt(group.at(budget)[0], digits)} | – | – | – |")
    lines += _tolerance_lines(groups, ours, budget, maximize, digits)
    contenders = list(dict.fromkeys(g.contender for g in ours))
    for title, index in (("Evaluations to the top 0.1 % (median, seeds that got there)", 0),
                         (f"Δ `{report}` @{budget} vs the method's own ablation", 1)):
        lines += ["", f"{title}:", "", "| contender | " + " | ".join(qualities) + " |",
                  "|---|" + "---|" * len(qualities)]
        for name in contenders:
            cells = [verdict.get((name, q), ("–", "–"))[index] for q in qualities]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _paired_gap(mine: Group, other: Group, budget: int, maximize: bool) -> float | None:
    """``mine``'s mean minus ``other``'s at ``budget`` on the seeds both ran, positive when
    ``mine`` is better; ``None`` without a common seed."""
    common = mine.seeds & other.seeds
    if not common:
        return None
    gap = mine.on_seeds(common).at(budget)[0] - other.on_seeds(common).at(budget)[0]
    return (gap if maximize else -gap) if math.isfinite(gap) else None


def tolerance(groups: Sequence[Group], budget: int, maximize: bool = True) -> float | None:
    """A quarter of TPE's lead over random search at ``budget`` (``tpe@optuna`` and
    ``random@optuna`` among ``groups``, no LLM; on the seeds both ran): how far below its
    ablation, or TPE, a method with a bad LLM may end on a table (issue 15's rule). 0 when TPE
    does not lead; ``None`` without both.

    Example:
        >>> def runs(name, finals):
        ...     return Group("t", 2, name, "none", [{"seed": s, "kind": "builtin", "best_report": [v, v]}
        ...                                         for s, v in enumerate(finals)])
        >>> tpe, rnd = runs("tpe@optuna", [94.0, 94.4]), runs("random@optuna", [93.6, 93.2, 90.0])
        >>> round(tolerance([tpe, rnd], 2), 2)  # (94.2 - 93.4) / 4: seed 2 has no TPE run
        0.2
        >>> tolerance([tpe, rnd], 2, maximize=False), tolerance([tpe], 2)  # lower is better: no lead
        (0.0, None)
    """
    by_name = {g.contender: g for g in groups if g.kind == "builtin"}
    if TPE not in by_name or RANDOM not in by_name:
        return None
    lead = _paired_gap(by_name[TPE], by_name[RANDOM], budget, maximize)
    return None if lead is None else max(0.0, lead / 4)


def _tolerance_lines(groups: Sequence[Group], ours: Sequence[Group], budget: int, maximize: bool,
                     digits: int) -> list[str]:
    """The table's tolerance and the rows of a bad LLM (uninformed, misleading, middle) whose
    mean ends beyond it, as the report shows them (to its digits, on the seeds both ran): below
    their ablation's, or below TPE's."""
    allowed = tolerance(groups, budget, maximize)
    if allowed is None:
        missing = " and ".join(f"`{name}`" for name in (TPE, RANDOM)
                               if not any(g.contender == name for g in groups))
        return ["", f"Tolerance: none (it needs {missing or 'runs of TPE and random search on common seeds'} "
                "in the sweep)."]
    by_name = {g.contender: g for g in groups}
    tpe = by_name[TPE]
    behind = []
    for group in (g for g in ours if _quality(g) in _BAD_QUALITIES):
        for label, other in (("its ablation", group.ablation(groups)), ("TPE", tpe)):
            gap = _paired_gap(group, other, budget, maximize) if other is not None else None
            if gap is not None and round(gap + allowed, digits) < 0:
                behind.append(f"{group.contender} {_quality(group)} vs {label} "
                              f"{_versus(group, other, budget, maximize, spread=True)}")
    lead = _paired_gap(tpe, by_name[RANDOM], budget, maximize)
    rule = (f"a quarter of TPE's lead over random search at {budget} evaluations ({lead:+.{digits}f}): "
            f"{allowed:.{digits}f}" if allowed > 0 else
            f"0: TPE does not lead random search at {budget} evaluations ({lead:+.{digits}f})")
    return ["", f"Tolerance: {rule}. A bad LLM's rows (uninformed, misleading, middle) whose mean ends further "
            "below their ablation's or TPE's than that, on the seeds both ran (Δ ± its standard error): "
            + ("; ".join(behind) if behind else "none") + "."]


def _settings(runs: Sequence[Mapping[str, Any]]) -> str:
    """Which settings our methods ran with: the defaults, or the options the records name."""
    chosen = sorted({json.dumps(options_of(r), sort_keys=True) for r in runs if r.get("kind") == "ours"})
    if chosen in ([], ["{}"]):
        return "Default settings: `seed=`, the budget and the LLM only."
    return "Settings: `seed=`, the budget, the LLM and " + " or ".join(
        ", ".join(f"`{k}={v!r}`" for k, v in json.loads(c).items()) or "nothing else" for c in chosen) + "."


def quality_markdown(runs: Sequence[Mapping[str, Any]]) -> str:
    """The sweep's report as markdown (runs of other LLMs are ignored)."""
    runs = [r for r in runs if is_quality_run(r)]
    lines = ["# LLM-quality sweep", ""]
    if not any(str(r.get("llm", "")).startswith(QUALITY_PREFIX) for r in runs):
        return "\n".join(lines + ["No runs with the quality-controlled fake LLM yet.", ""])
    lines.append(
        "Each method with a fake LLM whose answers come from the table itself: `expert` (every architecture it "
        "writes from the top 1 % by the searched metric), `middle` (ranks 45–55 %), `misleading` (the bottom "
        "10 %), `uninformed` (uniform over the table); partial architectures completed the same way, LAPT's "
        "whitelists from the options of the same pool (`llmnas.app.quality`). A `-stateless` quality remembers "
        "nothing between calls, as a real endpoint: it avoids only what the prompt lists as tried. "
        + _settings(runs) + " Generated from `runs.jsonl` by `llmnas compare --llm-quality … --report-only`.")
    for (benchmark, budget), groups in group_runs(runs).items():
        lines += ["", *_section(benchmark, budget, groups)]
    return "\n".join(lines) + "\n"


def write_quality_report(out: str | os.PathLike[str], runs: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """Write ``<out>/quality.md`` from ``runs`` (default: ``<out>/runs.jsonl``); its path."""
    out = Path(out)
    runs = read_runs(out / RUNS_FILE) if runs is None else list(runs)
    out.mkdir(parents=True, exist_ok=True)
    path = out / QUALITY_FILE
    path.write_text(quality_markdown(runs), encoding="utf-8")
    logger.info("Wrote %s", path)
    return path
