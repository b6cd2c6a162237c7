"""One run of a contender in its host: an Optuna study or an NNI experiment on a table.

The only place of the comparison that imports the hosts (NNI, Optuna and our adapters for
them), each inside the function that runs it, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from ..benchmarks.registry import TabularBenchmark
from ..space import Categorical, Config, Float, Integer, SearchSpace
from .contenders import OUR_METHODS, Contender, population_for

__all__ = ["HostRun", "import_host", "nni_table_space", "run_nni", "run_optuna"]


@dataclass
class HostRun:
    """What a host's run gives back: the evaluated configurations in order (``None``: a failed
    evaluation) and our sampler's / strategy's ``summary()``."""

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


def _optuna_sampler(contender: Contender, seed: int, budget: int, llm: Any, bench: TabularBenchmark,
                    options: Mapping[str, Any] | None = None) -> Any:
    import optuna

    if contender.method is not None:
        import optuna_llm_samplers
        from optuna_llm_samplers._space import to_distributions

        cls = getattr(optuna_llm_samplers, OUR_METHODS[contender.method] + "Sampler")
        return cls(llm=llm if contender.uses_llm else None, seed=seed, budget=budget, use_llm=contender.uses_llm,
                   task=_task(bench), search_space=to_distributions(bench.space()), log_every=0,
                   screen=contender.screened, **dict(options or {}))
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


def run_optuna(bench: TabularBenchmark, contender: Contender, seed: int, budget: int, llm: Any,
               on_evaluation: Callable[[], None] | None, options: Mapping[str, Any] | None = None) -> HostRun:
    """``budget`` trials of an Optuna study on ``bench`` with the contender's sampler."""
    import optuna

    sampler = _optuna_sampler(contender, seed, budget, llm, bench, options)
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
    return HostRun(configs, sampler.summary() if contender.method is not None else None)


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


def run_nni(bench: TabularBenchmark, contender: Contender, seed: int, budget: int, llm: Any,
            on_evaluation: Callable[[], None] | None, nni_space: str,
            options: Mapping[str, Any] | None = None) -> HostRun:
    """``budget`` models on NNI's sequential engine with the contender's strategy, over the
    table's dimensions (``nni_space="table"``) or NAS-Bench-201's hub space (``"hub"``)."""
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
                       screen=contender.screened, **dict(options or {}))
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
    return HostRun(configs, summary_of() if summary_of is not None else None)


def import_host(host: str) -> None:
    """Import ``host`` (``"nni"`` or ``"optuna"``) and our adapter for it: a one-off cost of the
    process, kept out of the timed run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NNI's import-time notes about torch classes
        if host == "nni":
            import nni.nas.strategy  # noqa: F401
            import nni_llm_strategies  # noqa: F401
        else:
            import optuna  # noqa: F401
            import optuna_llm_samplers  # noqa: F401
