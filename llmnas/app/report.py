"""The comparison's report, from ``runs.jsonl`` alone: ``results.md`` and one plot per benchmark.

For each benchmark (and budget) ``results.md`` has a table with one row per contender: the
reported metric (``report_metric`` of the best-by-``search_metric`` configuration so far) as
mean ± std over seeds at 25/50/100/200 evaluations (those within the budget, and the budget
itself), the evaluations needed to reach the table's optimum and its top 0.1 % (median over
the seeds that got there, and how many did), LLM calls and tokens per evaluation, the
fallback rate (proposals not from the LLM) and the wall time per run; then the LLM ablation
(each method with its LLM and with its own operator instead). ``<benchmark>.png`` plots the
best-so-far reported metric against evaluations, the mean with a ±std band, one line per
contender (one colour per method and host, its ablation dashed in that colour, the built-ins dotted). Plots need
``matplotlib`` (the ``bench`` extra); without it only ``results.md`` is written.

Example:
    >>> import tempfile
    >>> from llmnas.app.runner import Comparison
    >>> out = tempfile.mkdtemp()
    >>> _ = Comparison(out, benchmarks=["nb201-cifar10"], contenders=["random@optuna", "tpe@optuna"],
    ...                seeds=2, budget=30).run()
    >>> paths = write_report(out)
    >>> [p.name for p in paths]
    ['results.md', 'nb201-cifar10.png']
    >>> "| tpe@optuna | 2 |" in paths[0].read_text()
    True
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .records import RUNS_FILE, read_runs

__all__ = ["CHECKPOINTS", "Group", "RESULTS_FILE", "group_runs", "markdown", "plot_benchmark", "write_report"]

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.md"
CHECKPOINTS: tuple[int, ...] = (25, 50, 100, 200)
"""Evaluation counts at which the table reports the metric (those ≤ the budget)."""
_KIND_ORDER = {"ours": 0, "ablation": 1, "builtin": 2}


@dataclass
class Group:
    """The runs (one per seed) of one contender with one LLM on one benchmark at one budget."""

    benchmark: str
    budget: int
    contender: str
    llm: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.runs[0].get("kind", "builtin"))

    @property
    def method(self) -> str | None:
        return self.runs[0].get("method")

    def ablation(self, groups: Iterable["Group"]) -> "Group | None":
        """This method's own LLM-off ablation among ``groups``, else ``None``: the same host and
        ``method``, which a record names with its screen (``seki+screen@optuna``'s ablation is
        ``seki-nollm+screen@optuna``, not ``seki-nollm@optuna``)."""
        host = self.contender.split("@")[-1]
        return next((g for g in groups if g.kind == "ablation" and g.method == self.method
                     and g.contender.split("@")[-1] == host), None)

    def matrix(self, key: str = "best_report") -> np.ndarray:
        """``key``'s curve per seed (rows, sorted by seed) over evaluations 1…budget; a run that
        stopped early keeps its last value (best so far), ``nan`` before the first value."""
        rows = []
        for run in sorted(self.runs, key=lambda r: r["seed"]):
            values = [np.nan if v is None else float(v) for v in run.get(key, [])][: self.budget]
            last = values[-1] if values else np.nan
            rows.append(values + [last] * (self.budget - len(values)))
        return np.array(rows, dtype=float).reshape(len(rows), self.budget)

    def at(self, evaluations: int, key: str = "best_report") -> tuple[float, float]:
        """Mean and std (over seeds; 0 for one seed) of ``key`` after ``evaluations``."""
        column = self.matrix(key)[:, evaluations - 1]
        column = column[np.isfinite(column)]
        if not len(column):
            return math.nan, math.nan
        return float(column.mean()), float(column.std(ddof=1)) if len(column) > 1 else 0.0

    def reached(self, key: str) -> tuple[float | None, int]:
        """Median evaluations to ``key`` (``evals_to_optimum`` / ``evals_to_top``) over the seeds
        that got there, and how many did."""
        hits = [int(r[key]) for r in self.runs if r.get(key) is not None]
        return (float(np.median(hits)) if hits else None), len(hits)

    def per_evaluation(self, key: str) -> float:
        evaluations = sum(int(r.get("evaluations") or 0) for r in self.runs)
        return sum(float(r.get(key) or 0) for r in self.runs) / max(1, evaluations)

    def tokens_per_evaluation(self) -> float:
        return self.per_evaluation("prompt_tokens") + self.per_evaluation("completion_tokens")

    def fallback_rate(self) -> float | None:
        proposals = [r.get("proposals") for r in self.runs]
        if any(p is None for p in proposals):
            return None
        return sum(int(r.get("fallback_proposals") or 0) for r in self.runs) / max(1, sum(proposals))

    def wall(self) -> float:
        return float(np.mean([float(r.get("wall_s") or 0.0) for r in self.runs]))

    @property
    def seeds(self) -> set[int]:
        return {int(r["seed"]) for r in self.runs}

    def on_seeds(self, seeds: set[int]) -> Group:
        """The same contender's runs on ``seeds`` only (for paired comparisons)."""
        return Group(self.benchmark, self.budget, self.contender, self.llm,
                     [r for r in self.runs if int(r["seed"]) in seeds])


def group_runs(runs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int], list[Group]]:
    """Runs grouped by ``(benchmark, budget)`` (in order of first appearance), then by contender
    and LLM: ours first, then the ablations, then the built-ins, each in order of appearance."""
    sections: dict[tuple[str, int], dict[tuple[str, str], Group]] = {}
    for run in runs:
        section = sections.setdefault((str(run["benchmark"]), int(run["budget"])), {})
        key = (str(run["contender"]), str(run.get("llm", "none")))
        group = section.get(key)
        if group is None:
            group = section[key] = Group(str(run["benchmark"]), int(run["budget"]), key[0], key[1])
        group.runs.append(dict(run))
    out = {}
    for key, groups in sections.items():
        ordered = list(groups.values())
        out[key] = sorted(ordered, key=lambda g: (_KIND_ORDER.get(g.kind, 3), ordered.index(g)))
    return out


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _label(group: Group, several_llms: bool) -> str:
    return f"{group.contender} [{group.llm}]" if several_llms and group.llm != "none" else group.contender


def _checkpoints(budget: int) -> list[int]:
    points = [c for c in CHECKPOINTS if c <= budget]
    return points if budget in points else points + [budget]


def _section(benchmark: str, budget: int, groups: Sequence[Group]) -> list[str]:
    first = groups[0].runs[0]
    search, report = first["search_metric"], first["report_metric"]
    maximize = first.get("report_direction", "maximize") == "maximize"
    several_llms = len({g.llm for g in groups if g.llm != "none"}) > 1
    points = _checkpoints(budget)
    lines = [f"## {benchmark} (budget {budget})", ""]
    at_least = "≥" if first.get("direction", "maximize") == "maximize" else "≤"
    lines.append(
        f"Search on `{search}`; reported: `{report}` of the best-by-`{search}` configuration so far, mean ± std "
        f"over seeds. The table: {first['table_size']} configurations, optimum `{search}` "
        f"{_fmt(first['optimum_search'], 3)} (its `{report}` {_fmt(first['report_of_optimum'], 3)}; the best "
        f"`{report}` in the table is {_fmt(first['optimum_report'], 3)}); top 0.1 % = the best {first['top_count']} "
        f"by `{search}` ({at_least} {_fmt(first['top_search'], 3)})"
    )
    lines[-1] += ". Evaluations to reach them: median over the seeds that did (how many of all did)."
    lines.append("")
    header = (["contender", "seeds"] + [f"`{report}` @{p}" for p in points]
              + ["evals to optimum", "evals to top 0.1 %", "LLM calls / eval", "tokens / eval", "fallback rate",
                 "s / run"])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    means = {p: [g.at(p)[0] for g in groups] for p in points}
    best = {p: (np.nanmax if maximize else np.nanmin)(means[p]) if np.isfinite(means[p]).any() else None
            for p in points}
    # Metrics stored as fractions (NAS-Bench-Graph) need more decimals than percentages.
    scale = max((abs(m) for m in means[points[-1]] if m is not None and math.isfinite(m)), default=100.0)
    digits = 2 if scale >= 10 else 4
    for i, group in enumerate(groups):
        cells = [_label(group, several_llms), str(len(group.runs))]
        for p in points:
            mean, std = group.at(p)
            text = f"{_fmt(mean, digits)} ± {_fmt(std, digits)}"
            cells.append(f"**{text}**" if best[p] is not None and math.isclose(mean, best[p]) else text)
        for key in ("evals_to_optimum", "evals_to_top"):
            median, hits = group.reached(key)
            cells.append(f"{_fmt(median, 0)} ({hits}/{len(group.runs)})")
        uses_llm = group.kind == "ours"
        cells.append(_fmt(group.per_evaluation("llm_calls"), 2) if uses_llm else "–")
        cells.append(_fmt(group.tokens_per_evaluation(), 0) if uses_llm else "–")
        rate = group.fallback_rate()
        cells.append("–" if rate is None else f"{100 * rate:.0f} %")
        cells.append(_fmt(group.wall(), 1))
        lines.append("| " + " | ".join(cells) + " |")
    lines += _ablation(groups, budget, report)
    lines += _verdicts(groups, budget, report, maximize)
    if search != report:
        lines += _verdicts(
            groups, budget, search, first.get("direction", "maximize") == "maximize", key="best_search",
            intro=f"The same on the metric searched (what the methods optimize; a better `{search}` can come with "
                  f"a lower `{report}`), the best found")
    lines += _notes(groups)
    return lines


_RIVALS = ("re@nni", "tpe@optuna", "random@optuna")
"""The built-ins every method is measured against in the verdict table (when present)."""


def _per_seed(group: Group, evaluations: int, key: str = "best_report") -> dict[int, float]:
    column = group.matrix(key)[:, evaluations - 1]
    seeds = sorted(int(r["seed"]) for r in group.runs)
    return {s: float(v) for s, v in zip(seeds, column) if math.isfinite(v)}


def _versus(mine: Group, other: Group, evaluations: int, maximize: bool, key: str = "best_report", *,
            spread: bool = False) -> str:
    """``Δ of the means (seeds won–lost)``, positive when ``mine`` is better; with ``spread``,
    ``Δ ± its standard error (seeds won–lost)``, the error of the mean of the paired per-seed
    differences (from 2 seeds on), so a reader can tell a cost from the seeds' noise."""
    a, b = _per_seed(mine, evaluations, key), _per_seed(other, evaluations, key)
    common = sorted(set(a) & set(b))
    if not common:
        return "–"
    sign = 1.0 if maximize else -1.0
    delta = sign * (float(np.mean([a[s] for s in common])) - float(np.mean([b[s] for s in common])))
    won = sum(sign * (a[s] - b[s]) > 0 for s in common)
    lost = sum(sign * (a[s] - b[s]) < 0 for s in common)
    digits = 2 if max(abs(a[common[0]]), 1.0) >= 10 else 4
    text = f"{delta:+.{digits}f}" if round(delta, digits) != 0 else f"±{0:.{digits}f}"
    if spread and len(common) > 1:
        error = float(np.std([a[s] - b[s] for s in common], ddof=1)) / math.sqrt(len(common))
        text += f" ± {error:.{digits}f}"
    return f"{text} ({won}–{lost})"


def _verdicts(
    groups: Sequence[Group], budget: int, metric: str, maximize: bool, key: str = "best_report", intro: str = "",
) -> list[str]:
    """Where each method wins and loses: at min(100, budget) evaluations, the difference of
    its mean from its own LLM-off ablation and from each built-in, on the seeds both ran
    (``key``: the reported curve, or ``"best_search"`` for the searched metric)."""
    point = min(100, budget)
    by_name = {g.contender: g for g in groups}
    rivals = [r for r in _RIVALS if r in by_name]
    mine = [g for g in groups if g.kind in ("ours", "ablation")]
    if not mine or not rivals:
        return []
    has_llm = any(g.kind == "ours" for g in groups)
    header = ["method"] + (["vs its LLM-off ablation"] if has_llm else []) + [f"vs {r}" for r in rivals]
    rows = []
    for group in mine:
        cells = [group.contender]
        if has_llm:
            own = group.ablation(groups)
            cells.append(_versus(group, own, point, maximize, key)
                         if group.kind == "ours" and own is not None else "–")
        cells += [_versus(group, by_name[r], point, maximize, key) for r in rivals]
        rows.append("| " + " | ".join(cells) + " |")
    intro = intro or "Where each method wins and loses"
    return ["", f"{intro}: `{metric}` @{point}, the method's mean minus the other's on "
            "the seeds both ran (positive: the method is better), and in brackets the seeds it won–lost.", "",
            "| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows]


def _ablation(groups: Sequence[Group], budget: int, report: str) -> list[str]:
    rows = []
    for ours in (g for g in groups if g.kind == "ours"):
        own = ours.ablation(groups)
        common = ours.seeds & own.seeds if own is not None else set()
        if not common:
            continue
        ours, own = ours.on_seeds(common), own.on_seeds(common)
        with_llm, without = ours.at(budget)[0], own.at(budget)[0]
        top_with, hits_with = ours.reached("evals_to_top")
        top_without, hits_without = own.reached("evals_to_top")
        rows.append(f"| {ours.contender} | {len(common)} | {_fmt(with_llm)} | {_fmt(without)} | "
                    f"{with_llm - without:+.2f} | {_fmt(top_with, 0)} ({hits_with}/{len(common)}) | "
                    f"{_fmt(top_without, 0)} ({hits_without}/{len(common)}) |")
    if not rows:
        return []
    return ["", f"LLM ablation: each method with its LLM and with its own non-LLM operator instead "
            f"(`use_llm=False`); `{report}` @{budget}, mean over the seeds both ran.", "",
            "| method | seeds | with LLM | own operator | Δ | evals to top 0.1 % (LLM) | evals to top 0.1 % (own) |",
            "|---|---|---|---|---|---|---|", *rows]


def _notes(groups: Sequence[Group]) -> list[str]:
    notes = []
    for group in groups:
        misses = sum(int(r.get("replay_misses") or 0) for r in group.runs)
        errors = sum(int(r.get("llm_errors") or 0) for r in group.runs)
        short = [r["seed"] for r in group.runs if int(r.get("evaluations") or 0) < group.budget]
        if misses:
            notes.append(f"- {group.contender}: {misses} replay misses (answers not in the cache; those proposals "
                         "came from the fallback operator)")
        elif errors:
            notes.append(f"- {group.contender}: {errors} failed LLM calls (their proposals came from the fallback)")
        if short:
            notes.append(f"- {group.contender}: seeds {short} stopped before the budget (curves carry the last value)")
    return ["", *notes] if notes else []


def markdown(runs: Sequence[Mapping[str, Any]], *, plots: Mapping[str, str] | None = None) -> str:
    """The report as markdown; ``plots`` maps a benchmark to its plot's file name."""
    sections = group_runs(runs)
    llms = sorted({str(r.get("llm")) for r in runs if r.get("llm") not in (None, "none")})
    lines = ["# Comparison results", ""]
    if not runs:
        return "\n".join(lines + ["No runs yet.", ""])
    lines.append(
        f"{len(runs)} runs on {len({b for b, _ in sections})} benchmarks; LLM: {', '.join(llms) or 'none'}. "
        "Contenders are `<algo>@<host>`; `-nollm` is the same method with `use_llm=False` (its own operator "
        "instead of the LLM)" + ("; `+screen` adds the surrogate screen (`screen=True`, our addition; its ablation is "
                                  "`-nollm+screen`)" if any("+screen" in str(r.get("contender")) for r in runs) else "")
        + ". Generated from `runs.jsonl` by `llmnas compare --report-only`."
    )
    for (benchmark, budget), groups in sections.items():
        lines += ["", *_section(benchmark, budget, groups)]
        if plots and benchmark in plots and budget == max(b for name, b in sections if name == benchmark):
            lines += ["", f"![{benchmark}]({plots[benchmark]})"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------
def plot_benchmark(groups: Sequence[Group], path: str | os.PathLike[str]) -> Path | None:
    """Best-so-far reported metric vs evaluations (mean ± std band), one line per group;
    ``None`` (and a warning) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        logger.warning("matplotlib is not installed (pip install 'llmnas[bench]'): no plot %s", path)
        return None
    first = groups[0].runs[0]
    budget = groups[0].budget
    methods = list(dict.fromkeys((g.method, g.contender.split("@")[-1]) for g in groups if g.method is not None))
    palette = plt.get_cmap("tab10").colors
    builtin_colors = iter(plt.get_cmap("Dark2").colors * 3)
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=110)
    x = np.arange(1, budget + 1)
    lows = []
    for group in groups:
        matrix = group.matrix()
        with np.errstate(all="ignore"):
            mean = np.nanmean(matrix, axis=0) if matrix.size else np.full(budget, np.nan)
            std = np.nanstd(matrix, axis=0, ddof=1) if len(matrix) > 1 else np.zeros(budget)
        std = np.nan_to_num(std)
        if group.method is not None:
            color = palette[methods.index((group.method, group.contender.split("@")[-1])) % len(palette)]
            style = "-" if group.kind == "ours" else "--"
        else:
            color, style = next(builtin_colors), ":"
        ax.plot(x, mean, style, color=color, label=group.contender, linewidth=1.6)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.08 if len(groups) > 6 else 0.15, linewidth=0)
        point = max(1, budget // 5) - 1
        if np.isfinite(mean[point]):
            lows.append(mean[point] - std[point])
    ax.axhline(first["report_of_optimum"], color="gray", linewidth=0.8, linestyle="-.",
               label=f"{first['report_metric']} of the {first['search_metric']} optimum")
    if lows:
        top = max(first["optimum_report"], first["report_of_optimum"])
        bottom = min(lows)
        if first.get("report_direction", "maximize") == "maximize" and bottom < top:
            ax.set_ylim(bottom, top + 0.05 * (top - bottom))
    ax.set_xlim(1, budget)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"{first['report_metric']} of the best-by-{first['search_metric']} so far")
    ax.set_title(f"{groups[0].benchmark}: mean ± std over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(out: str | os.PathLike[str], runs: Sequence[Mapping[str, Any]] | None = None) -> list[Path]:
    """Write ``<out>/results.md`` and ``<out>/<benchmark>.png`` from ``runs`` (default: read
    ``<out>/runs.jsonl``); returns the paths written, the markdown first."""
    out = Path(out)
    runs = read_runs(out / RUNS_FILE) if runs is None else list(runs)
    out.mkdir(parents=True, exist_ok=True)
    sections = group_runs(runs)
    plots: dict[str, str] = {}
    written: list[Path] = []
    for benchmark in dict.fromkeys(b for b, _ in sections):
        budget = max(b for name, b in sections if name == benchmark)
        path = plot_benchmark(sections[(benchmark, budget)], out / f"{benchmark}.png")
        if path is not None:
            plots[benchmark] = path.name
            written.append(path)
    results = out / RESULTS_FILE
    results.write_text(markdown(runs, plots=plots), encoding="utf-8")
    logger.info("Wrote %s and %d plots", results, len(plots))
    return [results, *written]
