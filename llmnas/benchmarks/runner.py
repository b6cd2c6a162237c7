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

The command line: ``llmnas compare --help``; the report: :mod:`llmnas.benchmarks.report`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..space import Categorical, Config, Float, Integer, SearchSpace
from .registry import TabularBenchmark, load_benchmark

if TYPE_CHECKING:
    from ..llm.protocol import LLM

__all__ = [
    "BUILTINS", "CACHE_DIR", "DEFAULT_BENCHMARKS", "DEFAULT_CONTENDERS", "OUR_METHODS", "RUNS_FILE",
    "Comparison", "ComparisonResult", "Contender", "Plan", "RunSpec", "TableFacts", "append_run",
    "curves", "llm_key", "population_for", "read_runs", "run_one", "table_facts",
]

logger = logging.getLogger(__name__)

RUNS_FILE = "runs.jsonl"
"""The results file in the output folder: one JSON object per finished run."""
CACHE_DIR = "llm-cache"
"""The LLM response cache in the output folder (unless another is given)."""
RECORD_VERSION = 1

CURVE_KEYS = ("best_search", "best_report")
"""Per-evaluation curves of a record: stored on disk as their steps (see :func:`encode_curve`)."""


def encode_curve(values: Sequence[Any]) -> dict[str, Any]:
    """A best-so-far curve as ``{"n": length, "steps": [[index, value], ...]}``, one step
    where the value changes: a curve of 200 evaluations usually has a dozen, so a
    ``runs.jsonl`` is about ten times smaller.

    >>> encode_curve([None, 1.0, 1.0, 2.0])
    {'n': 4, 'steps': [[0, None], [1, 1.0], [3, 2.0]]}
    >>> decode_curve(encode_curve([None, 1.0, 1.0, 2.0]))
    [None, 1.0, 1.0, 2.0]
    """
    steps: list[list[Any]] = []
    for i, value in enumerate(values):
        if not steps or steps[-1][1] != value:
            steps.append([i, value])
    return {"n": len(values), "steps": steps}


def decode_curve(stored: Any) -> list[Any]:
    """The full curve of :func:`encode_curve` (a plain list is returned as it is)."""
    if not isinstance(stored, Mapping):
        return list(stored)
    out: list[Any] = []
    steps = stored["steps"]
    for k, (start, value) in enumerate(steps):
        end = steps[k + 1][0] if k + 1 < len(steps) else int(stored["n"])
        out.extend([value] * (end - int(start)))
    return out

OUR_METHODS: dict[str, str] = {"seki": "SEKI", "lapt": "LAPT", "collm-nas": "CoLLMNAS", "gpt-ea": "GPTEA"}
"""Our methods → the class name prefix of their sampler / strategy."""
ABLATION_SUFFIX = "-nollm"
SCREEN_SUFFIX = "+screen"
"""Our method with ``screen=True`` (the surrogate screen, :mod:`llmnas.screening`)."""
BUILTINS: dict[str, tuple[str, ...]] = {"optuna": ("random", "tpe", "nsga2", "gp"), "nni": ("random", "re")}
"""The hosts' own search algorithms the runner knows."""
HOSTS = ("optuna", "nni")

DEFAULT_BENCHMARKS: tuple[str, ...] = ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16")
DEFAULT_CONTENDERS: tuple[str, ...] = (
    "seki@optuna", "lapt@optuna", "collm-nas@optuna", "gpt-ea@optuna",
    "seki-nollm@optuna", "lapt-nollm@optuna", "collm-nas-nollm@optuna", "gpt-ea-nollm@optuna",
    "random@optuna", "tpe@optuna", "nsga2@optuna", "gp@optuna", "random@nni", "re@nni",
)
"""The set behind the README's results section."""

NO_LLM = "none"
TOP_FRACTION = 0.001
""""Top 0.1 %": the best ``ceil(0.001 × table size)`` configurations by ``search_metric``."""

# Rough costs for the estimate stated before a comparison starts (measured on a 2-core
# machine at budget 100; the progress bar shows the live rate).
_LLM_CALLS_PER_EVAL = {"seki": 0.35, "collm-nas": 0.45, "lapt": 0.2, "gpt-ea": 0.15}
_HOST_S_PER_EVAL = {"optuna": 0.006, "nni": 0.003, "nni-hub": 0.09}
_GP_S_PER_EVAL_PER_EVAL = 0.004  # Optuna's GPSampler refits on every trial: 30-110 s per run at budget 100
_SCREEN_S_PER_EVAL_PER_EVAL = 0.00008  # the surrogate screen refits per batch: 0.5-7 s more per run at budget 200
_NNI_IMPORT_S = 6.0
_S_PER_CALL = {"local": 15.0, "remote": 3.0}


# --------------------------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contender:
    """One search algorithm in one host, named ``"<algo>@<host>"``.

    Example:
        >>> c = Contender.parse("seki-nollm@optuna")
        >>> c.method, c.uses_llm, c.kind
        ('seki', False, 'ablation')
        >>> Contender.parse("re@nni").kind
        'builtin'
        >>> c = Contender.parse("gpt-ea-nollm+screen@nni")
        >>> c.method, c.family, c.kind, c.screened
        ('gpt-ea', 'gpt-ea+screen', 'ablation', True)
    """

    algo: str
    host: str

    @property
    def name(self) -> str:
        return f"{self.algo}@{self.host}"

    @property
    def method(self) -> str | None:
        """Our method's name (``"seki"`` …) for ours and their ablations, else ``None``."""
        base = self.algo.removesuffix(SCREEN_SUFFIX).removesuffix(ABLATION_SUFFIX)
        return base if base in OUR_METHODS else None

    @property
    def screened(self) -> bool:
        """Whether ours runs with the surrogate screen (``+screen``)."""
        return self.method is not None and self.algo.endswith(SCREEN_SUFFIX)

    @property
    def family(self) -> str | None:
        """What pairs a method with its ablation in the reports: the method's name, with
        ``+screen`` when screened (``None`` for the built-ins)."""
        return None if self.method is None else self.method + (SCREEN_SUFFIX if self.screened else "")

    @property
    def kind(self) -> str:
        """``"ours"``, ``"ablation"`` (ours with ``use_llm=False``) or ``"builtin"``."""
        if self.method is None:
            return "builtin"
        return "ablation" if self.algo.removesuffix(SCREEN_SUFFIX).endswith(ABLATION_SUFFIX) else "ours"

    @property
    def uses_llm(self) -> bool:
        return self.kind == "ours"

    @classmethod
    def parse(cls, name: str) -> Contender:
        """``"algo@host"`` → a contender; ``ValueError`` lists the valid names."""
        algo, sep, host = str(name).strip().lower().partition("@")
        contender = cls(algo, host)
        if not sep or host not in HOSTS or (contender.method is None and algo not in BUILTINS.get(host, ())):
            raise ValueError(f"unknown contender {name!r}; expected '<algo>@<host>', one of {known_contenders()}")
        return contender

    def __str__(self) -> str:
        return self.name


def known_contenders() -> list[str]:
    """Every contender name the runner accepts."""
    names = []
    for host in HOSTS:
        for suffix in ("", SCREEN_SUFFIX):
            names += [f"{m}{suffix}@{host}" for m in OUR_METHODS]
            names += [f"{m}{ABLATION_SUFFIX}{suffix}@{host}" for m in OUR_METHODS]
        names += [f"{b}@{host}" for b in BUILTINS[host]]
    return names


def population_for(budget: int) -> int:
    """The population of the evolutionary built-ins (NNI's RE, Optuna's NSGA-II) at ``budget``:
    ``clamp(budget // 5, 10, 100)``.

    >>> population_for(20), population_for(100), population_for(1000)
    (10, 20, 100)
    """
    return int(min(100, max(10, budget // 5)))


def llm_key(llm: Any) -> str:
    """What identifies the LLM in a run's key: its description without the endpoint's URL
    (the response cache is keyed by the model, not the URL, so a replay elsewhere matches).

    >>> class Fake:
    ...     description = "openai:gpt-4o-mini @ http://127.0.0.1:8000/v1"
    >>> llm_key(Fake()), llm_key(None)
    ('openai:gpt-4o-mini', 'none')
    """
    if llm is None:
        return NO_LLM
    return str(getattr(llm, "description", type(llm).__name__)).split(" @ ")[0].strip()


# --------------------------------------------------------------------------------------------
# The table's facts and the curves of one run
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableFacts:
    """What a run's record needs from the table, so the report needs no table.

    ``top_search``: the value of ``search_metric`` a configuration must reach (≥ when
    maximizing) to be in the top ``TOP_FRACTION`` of the table (``top_count`` configurations).
    """

    search_metric: str
    report_metric: str
    direction: str
    report_direction: str
    optimum_search: float
    optimum_report: float
    report_of_optimum: float
    top_search: float
    top_count: int
    size: int

    def better(self, a: float, b: float) -> bool:
        """``a`` strictly better than ``b`` in the search direction."""
        return a > b if self.direction == "maximize" else a < b

    def reaches(self, value: float, threshold: float) -> bool:
        return value >= threshold - 1e-9 if self.direction == "maximize" else value <= threshold + 1e-9


_FACTS: dict[tuple[str, int], tuple[TableFacts, TabularBenchmark]] = {}  # the table kept: its id stays its own


def table_facts(bench: TabularBenchmark) -> TableFacts:
    """The optimum, the top-0.1 % threshold and the size of ``bench``'s table (cached)."""
    key = (bench.name, id(bench))
    if key in _FACTS:
        return _FACTS[key][0]
    search, report = bench.search_metric, bench.report_metric
    direction, report_direction = bench.direction(search), bench.direction(report)
    values = np.asarray(bench.values(search), dtype=float)
    finite = np.sort(values[np.isfinite(values)])
    if direction == "maximize":
        finite = finite[::-1]
    top_count = max(1, math.ceil(TOP_FRACTION * len(finite)))
    best = bench.optimum(search)
    facts = TableFacts(
        search_metric=search, report_metric=report, direction=direction, report_direction=report_direction,
        optimum_search=float(best.value), optimum_report=float(bench.optimum(report).value),
        report_of_optimum=float(bench.query(best.config)[report]), top_search=float(finite[top_count - 1]),
        top_count=top_count, size=int(len(values)),
    )
    _FACTS[key] = (facts, bench)
    return facts


def curves(bench: TabularBenchmark, configs: Sequence[Config | None], facts: TableFacts | None = None) -> dict[str, Any]:
    """Best-so-far curves of one run from its evaluated configurations, in order (``None``: an
    evaluation that failed; it counts, and changes nothing).

    Returns ``best_search``/``best_report`` (one value per evaluation; ``None`` before the
    first success), ``evals_to_optimum``/``evals_to_top`` (1-based, ``None`` if never) and
    ``distinct`` (distinct configurations evaluated).

    Example:
        >>> bench = load_benchmark("nb201-cifar10")
        >>> best = bench.optimum("valid_acc").config
        >>> c = curves(bench, [{e: "none" for e in best}, best, {e: "none" for e in best}])
        >>> c["evals_to_optimum"], c["evals_to_top"], c["distinct"], len(c["best_report"])
        (2, 2, 2, 3)
    """
    facts = facts or table_facts(bench)
    best_search: list[float | None] = []
    best_report: list[float | None] = []
    cur_s: float | None = None
    cur_r: float | None = None
    to_opt: int | None = None
    to_top: int | None = None
    seen: set[str] = set()
    for i, config in enumerate(configs, 1):
        if config is not None:
            seen.add(json.dumps(config, sort_keys=True, default=str))
            metrics = bench.query(config)
            s, r = float(metrics[facts.search_metric]), float(metrics[facts.report_metric])
            if math.isfinite(s) and (cur_s is None or facts.better(s, cur_s)):
                cur_s, cur_r = s, r
            if math.isfinite(s):
                if to_top is None and facts.reaches(s, facts.top_search):
                    to_top = i
                if to_opt is None and facts.reaches(s, facts.optimum_search):
                    to_opt = i
        best_search.append(cur_s)
        best_report.append(cur_r)
    return {"best_search": best_search, "best_report": best_report, "evals_to_optimum": to_opt,
            "evals_to_top": to_top, "distinct": len(seen)}


# --------------------------------------------------------------------------------------------
# One run in a host
# --------------------------------------------------------------------------------------------
@dataclass
class _HostRun:
    configs: list[Config | None]
    summary: dict[str, Any] | None  # our samplers' / strategies' summary(); None for built-ins


class _TableObjective:
    """An Optuna objective over any tabular benchmark: suggests each dimension, returns
    ``search_metric`` (duck-typed trial: this module imports no Optuna)."""

    def __init__(self, bench: TabularBenchmark, on_evaluation: Callable[[], None] | None = None):
        self.bench = bench
        self.space = bench.space()
        self.on_evaluation = on_evaluation

    def __call__(self, trial: Any) -> float:
        config: Config = {}
        for dim in self.space:
            if isinstance(dim, Categorical):
                config[dim.name] = trial.suggest_categorical(dim.name, list(dim.choices))
            elif isinstance(dim, Integer):
                config[dim.name] = trial.suggest_int(dim.name, dim.low, dim.high, step=dim.step, log=dim.log)
            elif isinstance(dim, Float):
                config[dim.name] = trial.suggest_float(dim.name, dim.low, dim.high, step=dim.step, log=dim.log)
            else:
                raise TypeError(f"dimension {dim.name!r}: {type(dim).__name__} is not supported by the runner")
        try:
            return float(self.bench.query(config)[self.bench.search_metric])
        except KeyError:  # a configuration the table does not hold (e.g. NAS-Bench-Graph's all-skip cells)
            return float("nan")  # Optuna marks the trial FAIL and goes on
        finally:
            if self.on_evaluation is not None:
                self.on_evaluation()


def _task(bench: TabularBenchmark) -> str:
    """What the prompts say about the task: the benchmark's own task text if it has one."""
    return str(getattr(bench, "task_description", None) or bench.description)


def _optuna_sampler(contender: Contender, seed: int, budget: int, llm: Any, bench: TabularBenchmark) -> Any:
    import optuna

    if contender.method is not None:
        import optuna_llm_samplers
        from optuna_llm_samplers._space import to_distributions

        cls = getattr(optuna_llm_samplers, OUR_METHODS[contender.method] + "Sampler")
        return cls(llm=llm if contender.uses_llm else None, seed=seed, budget=budget, use_llm=contender.uses_llm,
                   task=_task(bench), search_space=to_distributions(bench.space()), log_every=0,
                   screen=contender.screened)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if contender.algo == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if contender.algo == "tpe":
            return optuna.samplers.TPESampler(seed=seed)
        if contender.algo == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=population_for(budget))
        if contender.algo == "gp":
            return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(f"no Optuna sampler for {contender}")


def _run_optuna(bench: TabularBenchmark, contender: Contender, seed: int, budget: int, llm: Any,
                on_evaluation: Callable[[], None] | None) -> _HostRun:
    import optuna

    sampler = _optuna_sampler(contender, seed, budget, llm, bench)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study = optuna.create_study(direction=bench.direction(bench.search_metric), sampler=sampler)
            study.optimize(_TableObjective(bench, on_evaluation), n_trials=budget)
    finally:
        optuna.logging.set_verbosity(verbosity)
    complete = optuna.trial.TrialState.COMPLETE
    configs = [dict(t.params) if t.state == complete else None for t in sorted(study.trials, key=lambda t: t.number)]
    return _HostRun(configs, sampler.summary() if contender.method is not None else None)


def _nni_mutable(name: str, dim: Any) -> Any:
    import nni

    if isinstance(dim, Categorical):
        return nni.choice(name, list(dim.choices))
    if isinstance(dim, Integer):
        if dim.log:
            raise TypeError(f"dimension {dim.name!r}: a log-scaled integer has no NNI table space here")
        return nni.choice(name, list(range(dim.low, dim.high + 1, dim.step)))
    if isinstance(dim, Float):
        make = nni.loguniform if dim.log else nni.uniform
        return make(name, dim.low, dim.high, quantize=dim.step) if dim.step else make(name, dim.low, dim.high)
    raise TypeError(f"dimension {dim.name!r}: {type(dim).__name__} is not supported by the runner")


def nni_table_space(space: SearchSpace) -> Any:
    """An NNI ``ModelSpace`` whose mutables are ``space``'s dimensions (label = name; a name
    with ``/`` is built with NNI's label scopes). A frozen instance holds the chosen values in
    ``.config``. Needs NNI (imported here)."""
    from nni.mutable import ensure_frozen, label_scope
    from nni.nas.nn.pytorch import ModelSpace

    dims = list(space)

    class TableModelSpace(ModelSpace):
        """The benchmark's dimensions as NNI mutables; nothing to train."""

        def __init__(self) -> None:
            super().__init__()
            self.config: dict[str, Any] = {}
            for dim in dims:
                *scopes, last = dim.name.split("/")
                with contextlib.ExitStack() as stack:
                    for scope in scopes:
                        stack.enter_context(label_scope(scope))
                    mutable = self.add_mutable(_nni_mutable(last, dim))
                self.config[dim.name] = ensure_frozen(mutable)

        def forward(self, x: Any) -> Any:  # pragma: no cover - never trained
            return x

    return TableModelSpace()


@contextlib.contextmanager
def _quiet_nni() -> Iterator[None]:
    """NNI logs every model at INFO: keep warnings only during a run."""
    log = logging.getLogger("nni")
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)


def _run_nni(bench: TabularBenchmark, contender: Contender, seed: int, budget: int, llm: Any,
             on_evaluation: Callable[[], None] | None, nni_space: str) -> _HostRun:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NNI's import-time notes about torch classes
        import nni
        from nni.nas.evaluator import FunctionalEvaluator
        from nni.nas.execution import SequentialExecutionEngine
        from nni.nas.space import ModelStatus, SimplifiedModelSpace
        from nni.nas.strategy import Random, RegularizedEvolution

    direction = bench.direction(bench.search_metric)
    hub = nni_space == "hub"
    if hub:
        from nni_llm_strategies.benchmarks import nas_bench_201_space, sample_of_model

        dataset = getattr(bench, "dataset", None)
        if not bench.name.startswith("nb201") or dataset is None:
            raise ValueError(f"nni_space='hub' is for NAS-Bench-201 only, not {bench.name}")
        model_space = nas_bench_201_space(dataset)
    else:
        model_space = nni_table_space(bench.space())
    # Our strategies get the raw metric and the direction; NNI's built-ins maximize "default".
    sign = -1.0 if contender.method is None and direction == "minimize" else 1.0

    def evaluate(model: Any) -> None:
        try:
            config = sample_of_model(model) if hub else dict(model.config)
            value = float(bench.query(config)[bench.search_metric])
            nni.report_final_result({"default": sign * value})
        finally:
            if on_evaluation is not None:
                on_evaluation()

    summary_of: Callable[[], dict[str, Any]] | None = None
    if contender.method is not None:
        import nni_llm_strategies

        cls = getattr(nni_llm_strategies, OUR_METHODS[contender.method] + "Strategy")
        strategy = cls(llm=llm if contender.uses_llm else None, seed=seed, budget=budget,
                       use_llm=contender.uses_llm, optimize_mode=direction, task=_task(bench),
                       screen=contender.screened)
        summary_of = strategy.summary
    elif contender.algo == "random":
        strategy = Random(seed=seed)
    elif contender.algo == "re":
        population = population_for(budget)
        strategy = RegularizedEvolution(population_size=population, sample_size=max(2, population // 4), seed=seed)
    else:
        raise ValueError(f"no NNI strategy for {contender}")
    engine = SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True)
    with _quiet_nni(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        space = SimplifiedModelSpace.from_model(model_space, FunctionalEvaluator(evaluate))
        strategy(space, engine)
    configs: list[Config | None] = []
    for model in list(engine.list_models())[:budget]:
        ok = model.status == ModelStatus.Trained and model.metrics.final is not None
        configs.append(dict(model.sample) if ok else None)
    return _HostRun(configs, summary_of() if summary_of is not None else None)


def _import_host(host: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NNI's import-time notes about torch classes
        if host == "nni":
            import nni.nas.strategy  # noqa: F401
            import nni_llm_strategies  # noqa: F401
        else:
            import optuna  # noqa: F401
            import optuna_llm_samplers  # noqa: F401


def _usage(llm: Any) -> dict[str, float]:
    usage = getattr(llm, "usage", None)
    return dict(usage.as_dict()) if usage is not None else {}


def run_one(
    bench: TabularBenchmark,
    contender: Contender | str,
    seed: int,
    budget: int,
    *,
    llm: LLM | None = None,
    on_evaluation: Callable[[], None] | None = None,
    nni_space: str = "table",
) -> dict[str, Any]:
    """One run; returns its record (what :class:`Comparison` appends to ``runs.jsonl``).

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
    facts = table_facts(bench)
    _import_host(contender.host)  # not timed: a one-off cost of the process, not of the run
    used_llm = llm if contender.uses_llm else None
    before = _usage(used_llm)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    if contender.host == "optuna":
        host_run = _run_optuna(bench, contender, seed, budget, used_llm, on_evaluation)
    else:
        host_run = _run_nni(bench, contender, seed, budget, used_llm, on_evaluation, nni_space)
    wall = time.perf_counter() - start
    after = _usage(used_llm)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if isinstance(after.get(k), (int, float))}
    replay = getattr(used_llm, "cache_mode", None) == "replay"
    record: dict[str, Any] = {
        "benchmark": bench.name, "contender": contender.name, "seed": seed, "budget": budget,
        "llm": llm_key(used_llm), "version": RECORD_VERSION, "kind": contender.kind,
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
        return {"llm_calls": 0, "llm_errors": 0, "replay_misses": 0, "prompt_tokens": 0, "completion_tokens": 0,
                "cache_hits": 0, "llm_seconds": 0.0, "proposals": None, "llm_proposals": None,
                "fallback_proposals": None, "fallback_reasons": {}}
    pipeline = summary.get("pipeline", {})
    fallbacks = int(pipeline.get("fallback_proposals", 0)) + int(summary.get("sampler", {}).get("host_fallbacks", 0))
    errors = int(delta.get("errors", 0))
    return {
        "llm_calls": int(pipeline.get("llm_calls", 0)),
        "llm_errors": int(pipeline.get("llm_errors", 0)),
        "replay_misses": errors if replay else 0,
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
# runs.jsonl
# --------------------------------------------------------------------------------------------
def run_key(record: Mapping[str, Any]) -> tuple[str, str, int, int, str]:
    """A run's identity: ``(benchmark, contender, seed, budget, llm)``."""
    return (str(record["benchmark"]), str(record["contender"]), int(record["seed"]), int(record["budget"]),
            str(record.get("llm", NO_LLM)))


def read_runs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``runs.jsonl`` file (missing file: none). A line that does not parse
    (a run interrupted while it was written) is skipped with a warning; a key seen twice keeps
    its last record."""
    path = Path(path)
    if not path.is_file():
        return []
    records: dict[tuple[Any, ...], dict[str, Any]] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = run_key(record)
                for name in CURVE_KEYS:
                    if name in record:
                        record[name] = decode_curve(record[name])
            except (ValueError, KeyError, TypeError):
                logger.warning("%s:%d: not a run record (an interrupted write?); ignored", path, number)
                continue
            records[key] = record
    return list(records.values())


def append_run(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """Append one record as a JSON line (flushed and synced: a crash loses at most the run in
    progress). A previous line cut off mid-write is closed first, so it stays one bad line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {k: encode_curve(v) if k in CURVE_KEYS and isinstance(v, list) else v for k, v in record.items()}
    line = json.dumps(stored, sort_keys=False, default=str) + "\n"
    with path.open("a+b") as fh:
        if fh.tell() > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                line = "\n" + line
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


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


@dataclass
class Plan:
    """What a comparison will do, and a rough estimate of how long it takes."""

    todo: list[RunSpec]
    done: int
    estimate_s: float
    llm: str | None
    seconds_per_call: float
    llm_calls_expected: float
    notes: list[str] = field(default_factory=list)

    @property
    def todo_count(self) -> int:
        return len(self.todo)

    @property
    def evaluations(self) -> int:
        return sum(spec.budget for spec in self.todo)

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
        return cls(out, benchmarks=[str(r["benchmark"]) for r in runs],
                   contenders=[str(r["contender"]) for r in runs], seeds=sorted({int(r["seed"]) for r in runs}),
                   budget=budgets[0], replay=not fresh, cache=None if fresh else reference / CACHE_DIR,
                   only=[(str(r["benchmark"]), str(r["contender"]), int(r["seed"])) for r in runs], **kwargs)

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
                                 nni_space=self.nni_space)
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
