"""The comparison runner: our methods, their LLM-off ablations and the hosts' built-ins, side
by side on tabular benchmarks, over many seeds, resumable.

A *contender* is named ``"<algo>@<host>"``:

* ours: ``seki``, ``lapt``, ``collm-nas``, ``gpt-ea`` at ``@optuna`` (the samplers) or
  ``@nni`` (the strategies, on NNI's sequential engine);
* their ablations ``seki-nollm`` … : the same class with ``use_llm=False``, so every proposal
  comes from the method's own non-LLM operator (the ablation "LLM replaced by its own
  operator");
* with the surrogate screen (our addition, :mod:`llmnas.screening`): ``seki+screen`` … and its
  ablation ``seki-nollm+screen`` … (``screen=True``);
* the hosts' built-ins: ``random``, ``tpe``, ``nsga2``, ``gp`` at ``@optuna``; ``random``,
  ``re`` (``RegularizedEvolution``) at ``@nni``.

Protocol of one run ``(benchmark, contender, seed, budget)``: the contender searches on
``bench.search_metric`` for ``budget`` evaluations (table look-ups); after each evaluation the
runner records the best ``search_metric`` so far and the ``report_metric`` of that
configuration (ties keep the first found), the first evaluation whose configuration reaches
the table's optimum of ``search_metric`` and the first reaching its top 0.1 %; the LLM calls,
tokens, errors and replay misses of the run; proposals from the LLM and from fallbacks; and the
wall time. Each run is one JSON line appended to ``<out>/runs.jsonl`` as soon as it ends,
keyed by ``(benchmark, contender, seed, budget, llm)`` (``llm`` is ``"none"`` for contenders
that use no LLM): an interrupted comparison resumes where it stopped and a rerun skips what is
done. One LLM object, with its response cache in ``<out>/llm-cache``, serves every run;
``replay=True`` answers from that cache only (never contacting the endpoint; a miss is an
error, counted per run and logged) so a rerun is free and gives identical curves.

Choices for the built-ins (documented so they can be argued with): NNI's
``RegularizedEvolution`` defaults to a population of 100, which is pure random search at a
budget of 100; the runner uses ``population = clamp(budget // 5, 10, 100)`` and ``sample_size
= max(2, population // 4)`` (20 and 5 at budget 100: a fifth of the budget random, NNI's own
sample/population ratio), NNI's default mutation probability (0.05 per dimension, duplicates
re-drawn). Optuna's ``NSGAIISampler`` gets the same population rule (its default 50 leaves two
generations at budget 100). TPE and GP run with Optuna's defaults. NNI's ``TPE`` is left out:
it minimizes by default and replaces duplicate suggestions with grid points, so it is no fair
baseline. LAPT gets no source table (a warm start from its first evaluations), so every
contender sees only the benchmark it searches. Our methods get ``task=bench.description`` for
their prompts, and in Optuna ``search_space=`` so that the first trial is theirs too.

Determinism: a seed fixes every sampler and strategy; with an LLM, runs repeat exactly when the
answers come from the cache (the same prompts hit the same entries: an ``@nni`` run of one of
ours reproduces its ``@optuna`` run on a warm cache).

NNI runs use a model space whose mutables are the benchmark's dimensions (labels = dimension
names, values = choices) and a ``FunctionalEvaluator`` doing the look-up; for NAS-Bench-201
its ``simplify()`` equals the hub space ``NasBench201``'s, which ``nni_space="hub"`` uses
instead (50–90 ms more per model, to build a network that is never trained; the same
seed gives the same search in both).

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> comparison = Comparison(out, benchmarks=["nb201-cifar10"], contenders=["random@optuna"],
    ...                         seeds=2, budget=20)
    >>> comparison.plan().todo_count
    2
    >>> records = comparison.run().records
    >>> [len(r["best_report"]) for r in records]
    [20, 20]
    >>> comparison.plan().todo_count   # a rerun skips what is done
    0

The command line: ``llmnas compare --help``; the report: :mod:`llmnas.app.report`. Where the
pieces live: the contenders (:mod:`llmnas.app.contenders`), a run in its host
(:mod:`llmnas.app.hosts`), a run's record and ``runs.jsonl`` (:mod:`llmnas.app.records`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from ..benchmarks.registry import TabularBenchmark, load_benchmark
from ..options import SearchOptions
from .contenders import (
    BUILTINS,
    DEFAULT_BENCHMARKS,
    DEFAULT_CONTENDERS,
    NO_LLM,
    OUR_METHODS,
    Contender,
    known_contenders,
    llm_key,
    population_for,
)
from .hosts import import_host, nni_table_space, run_nni, run_optuna
from .records import (
    CACHE_DIR,
    RECORD_VERSION,
    RUNS_FILE,
    TableFacts,
    append_run,
    curves,
    options_of,
    read_runs,
    run_key,
    table_facts,
)

if TYPE_CHECKING:
    from ..llm.protocol import LLM

__all__ = [
    "BUILTINS", "CACHE_DIR", "DEFAULT_BENCHMARKS", "DEFAULT_CONTENDERS", "OUR_METHODS", "RUNS_FILE",
    "Comparison", "ComparisonResult", "Contender", "Plan", "RunCounts", "RunSpec", "TableFacts", "append_run",
    "curves", "known_contenders", "llm_key", "nni_table_space", "population_for", "read_runs", "run_key",
    "run_one", "table_facts",
]

logger = logging.getLogger(__name__)

# Rough costs for the estimate stated before a comparison starts (measured on a 2-core
# machine at budget 100; the progress bar shows the live rate).
_LLM_CALLS_PER_EVAL = {"seki": 0.35, "collm-nas": 0.45, "lapt": 0.2, "gpt-ea": 0.15}
_HOST_S_PER_EVAL = {"optuna": 0.006, "nni": 0.003, "nni-hub": 0.09}
_GP_S_PER_EVAL_PER_EVAL = 0.004  # Optuna's GPSampler refits on every trial: 30-110 s per run at budget 100
_SCREEN_S_PER_EVAL_PER_EVAL = 0.00008  # the surrogate screen refits per batch: 0.5-7 s more per run at budget 200
_NNI_IMPORT_S = 6.0
_S_PER_CALL = {"local": 15.0, "remote": 3.0}


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------
def _usage(llm: Any) -> dict[str, float]:
    usage = getattr(llm, "usage", None)
    return dict(usage.as_dict()) if usage is not None else {}


_RUN_OWN_OPTIONS = {"seed", "budget", "llm", "use_llm", "screen", "task"}
"""Options a run sets itself (from its seed, budget, LLM, contender and benchmark)."""


def run_one(
    bench: TabularBenchmark,
    contender: Contender | str,
    seed: int,
    budget: int,
    *,
    llm: LLM | None = None,
    on_evaluation: Callable[[], None] | None = None,
    nni_space: str = "table",
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One run; returns its record (what :class:`Comparison` appends to ``runs.jsonl``).

    ``options`` are options of our contenders other than the defaults (a
    :class:`~llmnas.options.SearchOptions` name each, e.g. ``{"trust": False}``); the record
    keeps them, so a replay repeats the run with them.

    ``llm`` must be an LLM object for contenders that use one (shared across runs: the
    record's LLM counts are this run's share of its usage). ``on_evaluation()`` is called
    after every evaluation (a progress bar).

    Example:
        >>> record = run_one(load_benchmark("nb201-cifar10"), "tpe@optuna", seed=0, budget=10)
        >>> record["evaluations"], record["llm"], record["best_search"] == sorted(record["best_search"])
        (10, 'none', True)
    """
    contender = Contender.parse(contender) if isinstance(contender, str) else contender
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an int >= 1, got {budget!r}")
    if contender.uses_llm and llm is None:
        raise ValueError(f"{contender} needs an LLM object (llm=resolve_llm(...))")
    defaults = {f.name: f.default for f in dataclasses.fields(SearchOptions) if f.init}
    options = {k: v for k, v in dict(options or {}).items() if k not in defaults or v != defaults[k]}
    if set(options) - set(defaults) or set(options) & _RUN_OWN_OPTIONS:
        raise ValueError(f"options must name SearchOptions other than the run's own {sorted(_RUN_OWN_OPTIONS)}, "
                         f"got {sorted(options)!r}")
    facts = table_facts(bench)
    import_host(contender.host)  # not timed: a one-off cost of the process, not of the run
    used_llm = llm if contender.uses_llm else None
    before = _usage(used_llm)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    if contender.host == "optuna":
        host_run = run_optuna(bench, contender, seed, budget, used_llm, on_evaluation, options)
    else:
        host_run = run_nni(bench, contender, seed, budget, used_llm, on_evaluation, nni_space, options)
    wall = time.perf_counter() - start
    after = _usage(used_llm)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if isinstance(after.get(k), (int, float))}
    replay = getattr(used_llm, "cache_mode", None) == "replay"
    record: dict[str, Any] = {
        "benchmark": bench.name, "contender": contender.name, "seed": seed, "budget": budget,
        "llm": llm_key(used_llm), "version": RECORD_VERSION,
        "options": options if contender.method is not None else {},
        "kind": contender.kind,
        "method": contender.family, "host": contender.host,
        "search_metric": facts.search_metric, "report_metric": facts.report_metric,
        "direction": facts.direction, "report_direction": facts.report_direction,
        "optimum_search": facts.optimum_search, "optimum_report": facts.optimum_report,
        "report_of_optimum": facts.report_of_optimum, "top_search": facts.top_search,
        "top_count": facts.top_count, "table_size": facts.size,
        "evaluations": len(host_run.configs),
        **curves(bench, host_run.configs, facts),
        "wall_s": round(wall, 3), "started": started,
    }
    record.update(_llm_record(host_run.summary, delta, replay, contender))
    if record["replay_misses"]:
        logger.warning("%s seed %d on %s: %d replay misses (answers not in the cache; those proposals "
                       "came from the fallback operator, so this run differs from the cached one)",
                       contender, seed, bench.name, record["replay_misses"])
    return record


def _llm_record(summary: Mapping[str, Any] | None, delta: Mapping[str, float], replay: bool,
                contender: Contender) -> dict[str, Any]:
    if summary is None:  # a built-in: no LLM, no fallbacks to count
        return {"llm_calls": 0, "llm_errors": 0, "llm_repeats": 0, "replay_misses": 0, "prompt_tokens": 0, "completion_tokens": 0,
                "cache_hits": 0, "llm_seconds": 0.0, "proposals": None, "llm_proposals": None,
                "fallback_proposals": None, "fallback_reasons": {}}
    pipeline = summary.get("pipeline", {})
    fallbacks = int(pipeline.get("fallback_proposals", 0)) + int(summary.get("sampler", {}).get("host_fallbacks", 0))
    errors = int(delta.get("errors", 0))
    return {
        "llm_calls": int(pipeline.get("llm_calls", 0)),
        "llm_errors": int(pipeline.get("llm_errors", 0)),
        "llm_repeats": int(pipeline.get("duplicates", 0)),
        "replay_misses": errors - int(delta.get("cached_errors", 0)) if replay else 0,
        "prompt_tokens": int(delta.get("prompt_tokens", 0)),
        "completion_tokens": int(delta.get("completion_tokens", 0)),
        "cache_hits": int(delta.get("cache_hits", 0)),
        "llm_seconds": round(float(delta.get("seconds", 0.0)), 3),
        "proposals": int(summary.get("proposals", 0)),
        "llm_proposals": int(pipeline.get("accepted_llm", 0)) + int(pipeline.get("accepted_reask", 0)),
        "fallback_proposals": fallbacks,
        "fallback_reasons": dict(pipeline.get("fallback_reasons", {}) or {}),
        **({"screened_out": int(pipeline.get("screened_out", 0)),
            "screened_out_llm": int(pipeline.get("screened_out_llm", 0)),
            "screened_candidates": int(pipeline.get("screened_candidates", 0))} if contender.screened else {}),
    }


# --------------------------------------------------------------------------------------------
# A comparison
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSpec:
    """One run to do."""

    benchmark: str
    contender: str
    seed: int
    budget: int
    llm: str

    @property
    def key(self) -> tuple[str, str, int, int, str]:
        return (self.benchmark, self.contender, self.seed, self.budget, self.llm)


class RunCounts:
    """The counts of a plan whose ``todo`` lists the runs to do (a comparison's, a sweep's)."""

    todo: list[RunSpec]

    @property
    def todo_count(self) -> int:
        """How many runs are to do."""
        return len(self.todo)

    @property
    def evaluations(self) -> int:
        """How many evaluations the runs to do make together."""
        return sum(spec.budget for spec in self.todo)


@dataclass
class Plan(RunCounts):
    """What a comparison will do, and a rough estimate of how long it takes."""

    todo: list[RunSpec]
    done: int
    estimate_s: float
    llm: str | None
    seconds_per_call: float
    llm_calls_expected: float
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The plan in one paragraph, for a person about to wait for it."""
        if not self.todo:
            return f"Nothing to run: all {self.done} runs are done."
        text = (f"{len(self.todo)} runs to do ({self.evaluations} evaluations), {self.done} already done; "
                f"estimated {_duration(self.estimate_s)}")
        if self.llm_calls_expected and self.seconds_per_call:
            text += (f" (about {self.llm_calls_expected:.0f} LLM calls to {self.llm} at ~{self.seconds_per_call:g} s "
                     "each; cached answers are free)")
        elif self.llm_calls_expected:
            text += f" (about {self.llm_calls_expected:.0f} LLM calls to {self.llm}, answered from the cache)"
        return text + "." + "".join(f" {n}" for n in self.notes)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class ComparisonResult:
    """What :meth:`Comparison.run` did: the records it appended, how many runs it skipped as
    done, the runs that failed (spec, error text) and the replay misses in all."""

    records: list[dict[str, Any]]
    skipped: int
    failures: list[tuple[RunSpec, str]]
    replay_misses: int


class Comparison:
    """Runs every ``(benchmark, contender, seed)`` at one budget, appending to
    ``<out>/runs.jsonl``; see the module docstring for the protocol.

    Args:
        out: the output folder (``runs.jsonl``, ``llm-cache/``, the report).
        benchmarks: registered benchmark names (:func:`~llmnas.benchmarks.benchmark_names`).
        contenders: ``"<algo>@<host>"`` names (:func:`known_contenders`).
        seeds: a count ``n`` (seeds ``0 … n-1``) or the seeds themselves.
        budget: evaluations per run.
        llm: an LLM spec (``"local"``, ``"openai:<model>"``, an ``http://…/v1`` URL; ``None``:
            the environment's choice) resolved once with the cache below, or an LLM object
            (used as it is, with its own cache settings).
        replay: answer only from the cache (``cache_mode="replay"``); a miss is an error,
            counted per run (``replay_misses``).
        cache: the response cache folder; default ``<out>/llm-cache``.
        benchmarks_path: where the benchmark tables are (default: the usual search).
        nni_space: ``"table"`` (default) or ``"hub"`` (NAS-Bench-201's hub space, slower).
        only: if given, only these ``(benchmark, contender, seed)`` of the product above are run
            (a rerun of a folder whose contenders did not all run every seed).
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        benchmarks: Iterable[str] = DEFAULT_BENCHMARKS,
        contenders: Iterable[str | Contender] = DEFAULT_CONTENDERS,
        seeds: int | Iterable[int] = 5,
        budget: int = 100,
        llm: LLM | str | None = None,
        replay: bool = False,
        cache: str | os.PathLike[str] | None = None,
        benchmarks_path: str | os.PathLike[str] | None = None,
        nni_space: str = "table",
        only: Iterable[tuple[str, str, int]] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ValueError(f"budget must be an int >= 1, got {budget!r}")
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if seeds < 1:
                raise ValueError(f"seeds must be >= 1 (a count) or a list of seeds, got {seeds!r}")
            seed_list = list(range(seeds))
        else:
            seed_list = [int(s) for s in seeds]  # type: ignore[union-attr]
            if not seed_list or any(s < 0 for s in seed_list):
                raise ValueError(f"seeds must be ints >= 0, got {seed_list!r}")
        if nni_space not in ("table", "hub"):
            raise ValueError(f"nni_space must be 'table' or 'hub', got {nni_space!r}")
        self.out = Path(out)
        self.benchmarks = list(dict.fromkeys(str(b).strip().lower() for b in benchmarks))
        self.contenders = list(dict.fromkeys(c if isinstance(c, Contender) else Contender.parse(c)
                                             for c in contenders))
        if not self.benchmarks or not self.contenders:
            raise ValueError("a comparison needs at least one benchmark and one contender")
        self.seeds = list(dict.fromkeys(seed_list))
        self.budget = budget
        self.replay = bool(replay)
        self.cache = Path(cache) if cache is not None else self.out / CACHE_DIR
        self.benchmarks_path = benchmarks_path
        self.nni_space = nni_space
        self.options = dict(options or {})
        self.run_options: dict[tuple[str, str, int], dict[str, Any]] = {}
        """Options per run (benchmark, contender, seed) instead of ``options``: a rerun's, as recorded."""
        self.only = None if only is None else {(str(b), str(c), int(s)) for b, c, s in only}
        self._llm_spec = llm
        self._llm: Any = None
        self._benches: dict[str, TabularBenchmark] = {}
        for name in self.benchmarks:
            self.benchmark(name)  # fail early on an unknown name or a missing table

    @classmethod
    def rerun_of(
        cls, reference: str | os.PathLike[str], out: str | os.PathLike[str], *, fresh: bool = False, **kwargs: Any,
    ) -> Comparison:
        """A comparison that repeats the runs of the folder ``reference`` (its benchmarks,
        contenders, seeds and budget, read from its ``runs.jsonl``) into ``out``: from its
        recorded LLM answers (``replay`` from ``reference/llm-cache``), or with ``fresh=True``
        from the LLM itself (answers cached in ``out/llm-cache``), i.e. the recording redone
        from scratch."""
        reference = Path(reference)
        runs = read_runs(reference / RUNS_FILE)
        if not runs:
            raise ValueError(f"{reference / RUNS_FILE} holds no runs to repeat")
        budgets = sorted({int(r["budget"]) for r in runs})
        if len(budgets) != 1:
            raise ValueError(f"{reference / RUNS_FILE} mixes budgets {budgets}: repeat them one at a time")
        llms = sorted({str(r["llm"]) for r in runs if r.get("llm") not in (None, NO_LLM)})
        if len(llms) > 1:
            raise ValueError(f"{reference / RUNS_FILE} mixes LLMs {llms}: repeat them one at a time")
        kwargs.setdefault("llm", llms[0].split(" (")[0] if llms else None)  # "local:smollm2 (llama.cpp)"
        # each run repeats with the options it was recorded with (options_of); those given replace theirs
        given = dict(kwargs.pop("options", None) or {})
        comparison = cls(out, benchmarks=[str(r["benchmark"]) for r in runs],
                   contenders=[str(r["contender"]) for r in runs], seeds=sorted({int(r["seed"]) for r in runs}),
                   budget=budgets[0], replay=not fresh, cache=None if fresh else reference / CACHE_DIR,
                   only=[(str(r["benchmark"]), str(r["contender"]), int(r["seed"])) for r in runs],
                   options=given, **kwargs)
        comparison.run_options = {(str(r["benchmark"]), str(r["contender"]), int(r["seed"])): {**options_of(r), **given}
                                  for r in runs}
        return comparison

    @property
    def runs_path(self) -> Path:
        return self.out / RUNS_FILE

    @property
    def needs_llm(self) -> bool:
        return any(c.uses_llm for c in self.contenders)

    @property
    def llm(self) -> Any:
        """The one LLM object of every run (resolved on first use; ``None`` if no contender
        uses one)."""
        if self._llm is None and self.needs_llm:
            from ..llm.resolve import resolve_llm

            spec = self._llm_spec
            if spec is not None and not isinstance(spec, str):
                self._llm = spec
            else:
                self._llm = resolve_llm(spec, cache=self.cache, cache_mode="replay" if self.replay else "readwrite")
        return self._llm

    def benchmark(self, name: str) -> TabularBenchmark:
        if name not in self._benches:
            self._benches[name] = load_benchmark(name, self.benchmarks_path)
        return self._benches[name]

    def specs(self) -> list[RunSpec]:
        """Every run of the comparison, seed-major (all contenders on seed 0 first, so a partial
        comparison already compares everything)."""
        key = llm_key(self.llm) if self.needs_llm else NO_LLM
        return [RunSpec(b, c.name, s, self.budget, key if c.uses_llm else NO_LLM)
                for s in self.seeds for b in self.benchmarks for c in self.contenders
                if self.only is None or (b, c.name, s) in self.only]

    def done(self) -> set[tuple[str, str, int, int, str]]:
        return {run_key(r) for r in read_runs(self.runs_path)}

    def plan(self) -> Plan:
        """What is left to do and how long it should take (see :class:`Plan`)."""
        done = self.done()
        specs = self.specs()
        todo = [s for s in specs if s.key not in done]
        llm = llm_key(self.llm) if self.needs_llm else None
        per_call = 0.0
        if llm is not None and not self.replay:
            per_call = _S_PER_CALL["local"] if llm.startswith("local") else _S_PER_CALL["remote"]
            own = getattr(self.llm, "seconds_per_call", None)  # an LLM object that knows its cost (a fake)
            if isinstance(own, (int, float)) and not isinstance(own, bool):
                per_call = float(own)
        calls = 0.0
        seconds = 0.15 * len(self.benchmarks)
        if any(Contender.parse(s.contender).host == "nni" for s in todo):
            seconds += _NNI_IMPORT_S
        for spec in todo:
            contender = Contender.parse(spec.contender)
            host = "nni-hub" if contender.host == "nni" and self.nni_space == "hub" else contender.host
            per_eval = _HOST_S_PER_EVAL[host] if contender.name != "gp@optuna" else _GP_S_PER_EVAL_PER_EVAL * spec.budget
            if contender.screened:
                per_eval += _SCREEN_S_PER_EVAL_PER_EVAL * spec.budget
            seconds += spec.budget * per_eval
            if contender.uses_llm:
                calls += spec.budget * _LLM_CALLS_PER_EVAL[contender.method or ""]
        seconds += calls * per_call
        notes = []
        if self.replay and llm is not None:
            notes.append(f"Replay: LLM answers come from {self.cache} only.")
        return Plan(todo, len(specs) - len(todo), seconds, llm, per_call, calls, notes)

    def run(
        self,
        *,
        on_evaluation: Callable[[], None] | None = None,
        on_run_start: Callable[[RunSpec], None] | None = None,
        on_run: Callable[[dict[str, Any]], None] | None = None,
    ) -> ComparisonResult:
        """Do every run not yet in ``runs.jsonl``, appending each record as it ends.

        A run that raises is logged and listed in the result's ``failures`` (the others go on);
        ``KeyboardInterrupt`` stops the comparison, losing only the run in progress.
        """
        plan = self.plan()
        logger.info("%s", plan.describe())
        records: list[dict[str, Any]] = []
        failures: list[tuple[RunSpec, str]] = []
        misses = 0
        for spec in plan.todo:
            if on_run_start is not None:
                on_run_start(spec)
            contender = Contender.parse(spec.contender)
            try:
                record = run_one(self.benchmark(spec.benchmark), contender, spec.seed, spec.budget,
                                 llm=self.llm if contender.uses_llm else None, on_evaluation=on_evaluation,
                                 nni_space=self.nni_space,
                                 options=self.run_options.get((spec.benchmark, spec.contender, spec.seed), self.options))
            except Exception as exc:  # one broken run must not cost the others
                logger.exception("%s seed %d on %s failed", spec.contender, spec.seed, spec.benchmark)
                failures.append((spec, f"{type(exc).__name__}: {exc}"))
                continue
            if record["llm"] != spec.llm:  # the LLM object changed its description under us
                record["llm"] = spec.llm
            append_run(self.runs_path, record)
            records.append(record)
            misses += int(record.get("replay_misses") or 0)
            logger.info("%s seed %d on %s: best %s %.4g (%s %.4g) in %.1f s, %d LLM calls",
                        spec.contender, spec.seed, spec.benchmark, record["search_metric"],
                        _last(record["best_search"]), record["report_metric"], _last(record["best_report"]),
                        record["wall_s"], record["llm_calls"])
            if on_run is not None:
                on_run(record)
        return ComparisonResult(records, plan.done, failures, misses)


def _last(values: Sequence[float | None]) -> float:
    value = values[-1] if values else None
    return float("nan") if value is None else float(value)
