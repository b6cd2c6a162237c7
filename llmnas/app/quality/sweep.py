"""The LLM-quality sweep: every method with a :class:`~llmnas.app.quality.llm.QualityLLM` of
each quality, next to its ``use_llm=False`` ablation, TPE and random search, on tabular benchmarks.

One :class:`~llmnas.app.runner.Comparison` per ``(benchmark, quality)`` writes into the same
``runs.jsonl`` (its LLM key is ``quality:<quality>``); the LLM-free contenders run with the
first quality only (their run key has ``llm="none"``, so the other qualities share them). The
fake LLM starts a new run (its seed: the run's seed and contender) before every run, so a
run's answers depend on its seed and contender alone, and a resumed sweep repeats what an
uninterrupted one would do.
Contenders run with the runner's default settings: ``seed=``, the budget and the LLM only.

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> sweep = QualitySweep(out, benchmarks=["nb201-cifar10"], qualities=["expert", "misleading"],
    ...                      contenders=["seki@optuna", "seki-nollm@optuna"], seeds=1, budget=10)
    >>> sweep.plan().todo_count   # seki twice (one per quality), its ablation once
    3
    >>> sorted(r["llm"] for r in sweep.run().records)
    ['none', 'quality:expert', 'quality:misleading']
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ...benchmarks.registry import load_benchmark
from ..contenders import ABLATION_SUFFIX, OUR_METHODS, Contender
from ..runner import Comparison, ComparisonResult, Plan, RunCounts, RunSpec, _duration
from .llm import QUALITIES, QualityLLM

__all__ = ["DEFAULT_QUALITIES", "SWEEP_CONTENDERS", "QualitySweep", "SweepPlan", "parse_qualities"]

logger = logging.getLogger(__name__)

DEFAULT_QUALITIES: tuple[str, ...] = ("expert", "uninformed", "misleading")
SWEEP_CONTENDERS: tuple[str, ...] = (
    *(f"{m}@optuna" for m in OUR_METHODS), *(f"{m}{ABLATION_SUFFIX}@optuna" for m in OUR_METHODS), "tpe@optuna",
    "random@optuna",
)
"""The sweep's default contenders: our four methods in Optuna, their ablations, TPE and random
search (the two set each table's tolerance in the report)."""


def parse_qualities(names: Iterable[str]) -> list[str]:
    """The qualities named (deduplicated, in order); ``ValueError`` names the known ones."""
    qualities = list(dict.fromkeys(str(n).strip().lower() for n in names if str(n).strip()))
    unknown = [q for q in qualities if q not in QUALITIES]
    if not qualities or unknown:
        what = f"unknown LLM quality {', '.join(map(repr, unknown))}" if unknown else "no LLM quality given"
        raise ValueError(f"{what}; expected comma-separated names from: {', '.join(QUALITIES)}")
    return qualities


@dataclass
class SweepPlan(RunCounts):
    """The plans of the sweep's comparisons, read as one."""

    plans: list[Plan]

    @property  # type: ignore[override]  # read-only here: the runs to do of all the plans
    def todo(self) -> list[RunSpec]:
        return [spec for plan in self.plans for spec in plan.todo]

    @property
    def done(self) -> int:
        return sum(plan.done for plan in self.plans)

    @property
    def estimate_s(self) -> float:
        return sum(plan.estimate_s for plan in self.plans if plan.todo)

    def describe(self) -> str:
        if not self.todo:
            return f"Nothing to run: all {self.done} runs of the LLM-quality sweep are done."
        calls = sum(plan.llm_calls_expected for plan in self.plans)
        return (f"LLM-quality sweep: {self.todo_count} runs to do ({self.evaluations} evaluations), {self.done} "
                f"already done; estimated {_duration(self.estimate_s)} (about {calls:.0f} calls to the fake LLM).")


class QualitySweep:
    """Every contender on every benchmark with the fake LLM at every quality (module docstring).

    Args:
        out: the output folder (``runs.jsonl``, ``compare.log``, ``quality.md``).
        benchmarks: registered benchmark names.
        qualities: names from :data:`~llmnas.app.quality.llm.QUALITIES`.
        contenders: ``"<algo>@<host>"`` names (default :data:`SWEEP_CONTENDERS`).
        seeds: a count or the seeds; budget: evaluations per run.
        benchmarks_path, nni_space, options: as for :class:`~llmnas.app.runner.Comparison`.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        benchmarks: Iterable[str],
        qualities: Iterable[str] = DEFAULT_QUALITIES,
        contenders: Iterable[str | Contender] = SWEEP_CONTENDERS,
        seeds: int | Iterable[int] = 8,
        budget: int = 100,
        benchmarks_path: str | os.PathLike[str] | None = None,
        nni_space: str = "table",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.out = Path(out)
        self.qualities = parse_qualities(qualities)
        names = list(dict.fromkeys(c if isinstance(c, Contender) else Contender.parse(c) for c in contenders))
        self.benchmarks = list(dict.fromkeys(str(b).strip().lower() for b in benchmarks))
        if not self.benchmarks or not names:
            raise ValueError("a sweep needs at least one benchmark and one contender")
        self.comparisons: list[tuple[str, str, Comparison]] = []
        for benchmark in self.benchmarks:
            bench = load_benchmark(benchmark, benchmarks_path)
            for i, quality in enumerate(self.qualities):
                chosen = names if i == 0 else [c for c in names if c.uses_llm]
                if not chosen:
                    continue
                llm = QualityLLM(bench, quality)
                comparison = Comparison(self.out, benchmarks=[benchmark], contenders=chosen, seeds=seeds,
                                        budget=budget, llm=llm, benchmarks_path=benchmarks_path,
                                        nni_space=nni_space, options=options)
                self.comparisons.append((benchmark, quality, comparison))

    def plan(self) -> SweepPlan:
        """What is left to do and how long it should take."""
        return SweepPlan([comparison.plan() for _, _, comparison in self.comparisons])

    def run(
        self,
        *,
        on_evaluation: Callable[[], None] | None = None,
        on_run_start: Callable[[RunSpec], None] | None = None,
    ) -> ComparisonResult:
        """Every run not yet in ``runs.jsonl`` (comparison by comparison); the records appended,
        the runs skipped as done and the failures of all of them."""
        records: list[dict[str, Any]] = []
        failures: list[tuple[RunSpec, str]] = []
        skipped = misses = 0
        for benchmark, quality, comparison in self.comparisons:
            llm = comparison.llm

            def starting(spec: RunSpec, llm: Any = llm) -> None:
                if llm is not None:
                    llm.start_run(spec.seed, spec.contender)
                if on_run_start is not None:
                    on_run_start(spec)

            logger.info("LLM-quality sweep: %s with the %s LLM", benchmark, quality)
            result = comparison.run(on_evaluation=on_evaluation, on_run_start=starting)
            records += result.records
            failures += result.failures
            skipped += result.skipped
            misses += result.replay_misses
        return ComparisonResult(records, skipped, failures, misses)
