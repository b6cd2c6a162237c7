"""What every look-up benchmark shares: the best value of a metric over the table, the rank
and percentile of a value, the ``k`` best architectures (:class:`RankedTable`, also the base of
:class:`~llmnas.benchmarks.tables.NasBench201Table`), the error for an architecture the table
lacks and an Optuna objective (:class:`TableOptunaObjective`); and for every look-up benchmark
but NAS-Bench-201: metric arrays over the table's rows, directions and the legality check of a
configuration (:class:`LookupBenchmark`).

A subclass of :class:`LookupBenchmark` holds its parsed table (cached per process) and
implements :meth:`~LookupBenchmark.space`, ``_row(config)`` (the table row of a configuration)
and ``_config_of_row(row)``.

Example:
    >>> from llmnas.benchmarks.macro import NasBenchMacroTable
    >>> bench = NasBenchMacroTable()
    >>> config = bench.optimum("test_acc").config
    >>> bench.contains(config), bench.problems({"layer/1": "conv"})[0][:40]
    (True, 'a configuration needs exactly the dimens')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..space import Categorical, Config, SearchSpace


@dataclass(frozen=True)
class Optimum:
    """The best value of a metric over the whole table.

    Attributes:
        value: the best value.
        config: the configuration reaching it (the lowest index when several do).
        index: its index in the table (NAS-Bench-201's official index; a look-up
            benchmark's ``index``).
        ties: the indices of every architecture reaching it.
    """

    value: float
    config: Config
    index: int
    ties: tuple[int, ...] = field(repr=False)


class AbsentArchitectureError(KeyError):
    """A well-formed configuration of the search space that the benchmark's table does not
    hold (not measured by the benchmark's authors): it has no metrics.

    A ``KeyError`` (the configuration is a key the table lacks); a malformed configuration
    (unknown dimension or value) raises ``ValueError`` instead.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "architecture not in the benchmark"


class TableOptunaObjective:
    """``fn(trial) -> float`` over any table benchmark (``space()``, ``query(config)``, a
    metric check): suggests every dimension with ``trial.suggest_categorical``, returns
    ``metric`` and stores the other metrics with ``trial.set_user_attr``. A configuration the
    table lacks (:class:`AbsentArchitectureError`) returns ``nan`` (Optuna marks the trial FAIL
    and goes on) with the reason in the user attribute ``"absent"``. It pickles (for
    multi-process runs) and needs no Optuna import (the trial is duck-typed).

    Example:
        >>> class Trial:  # any object with Optuna's two methods works
        ...     def __init__(self): self.user_attrs = {}
        ...     def suggest_categorical(self, name, choices): return "conv_3x3"
        ...     def set_user_attr(self, key, value): self.user_attrs[key] = value
        >>> from llmnas.benchmarks.tables import NasBench201Table
        >>> objective = TableOptunaObjective(NasBench201Table("cifar10"), "valid_acc")
        >>> trial = Trial()
        >>> objective(trial) > 0, trial.user_attrs["index"]
        (True, 1462)
    """

    def __init__(self, bench: Any, metric: str):
        bench._check_metric(metric)
        self.bench = bench
        self.metric = metric

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bench!r}, metric={self.metric!r})"

    def __call__(self, trial: Any) -> float:
        config = {dim.name: trial.suggest_categorical(dim.name, list(dim.choices)) for dim in self.bench.space()}
        try:
            metrics = self.bench.query(config)
        except AbsentArchitectureError as exc:
            trial.set_user_attr("absent", str(exc))
            return float("nan")
        for key, value in metrics.items():
            if key != self.metric:
                trial.set_user_attr(key, value)
        return float(metrics[self.metric])


class RankedTable:
    """The queries over a whole table that every benchmark shares: :meth:`optimum`,
    :meth:`top_pairs`, :meth:`rank`, :meth:`percentile` and :meth:`regret` of a metric
    (default ``search_metric``).

    A subclass sets ``search_metric`` and ``self._ids`` (an integer identity per row, the
    ``index`` of :class:`Optimum`) and implements :meth:`values`, :meth:`direction` and
    ``_config_of_row``.
    """

    search_metric: str = ""
    _ids: np.ndarray

    # -- hooks ---------------------------------------------------------------------------------
    def values(self, metric: str) -> np.ndarray:
        """The metric over every row of the table (read-only array, in row order)."""
        raise NotImplementedError

    def direction(self, metric: str) -> str:
        """``"maximize"`` or ``"minimize"``."""
        raise NotImplementedError

    def _config_of_row(self, row: int) -> Config:
        raise NotImplementedError

    # -- the shared queries --------------------------------------------------------------------
    def optimum(self, metric: str | None = None, *, direction: str | None = None) -> Optimum:
        """The best value of ``metric`` (default ``search_metric``) over the table, and the
        configuration reaching it (the lowest ``index`` when several do; all in ``ties``)."""
        metric = metric or self.search_metric
        direction = direction or self.direction(metric)
        if direction not in ("maximize", "minimize"):
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        values = self.values(metric)
        best = float(values.max() if direction == "maximize" else values.min())
        rows = np.flatnonzero(values == best)
        ids = self._ids[rows]
        first = int(rows[np.argmin(ids)])
        return Optimum(best, self._config_of_row(first), int(self._ids[first]), tuple(sorted(int(i) for i in ids)))

    def top_pairs(self, k: int = 50, metric: str | None = None) -> list[tuple[Config, float]]:
        """The ``k`` best architectures by ``metric`` as ``(config, value)`` pairs, best first: a
        source for LAPT (principles) or a corpus for GPT-EA's Transformer prior."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}.")
        metric = metric or self.search_metric
        values = self.values(metric)
        order = np.argsort(values, kind="stable")
        if self.direction(metric) == "maximize":
            order = order[::-1]
        return [(self._config_of_row(int(r)), float(values[r])) for r in order[:k]]

    def _sorted_values(self, metric: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_sorted_cache", {})
        if metric not in cache:
            cache[metric] = np.sort(self.values(metric))
        return cache[metric]

    def rank(self, value: float, metric: str | None = None) -> int:
        """1 + the number of architectures strictly better than ``value`` (1 = as good as the best)."""
        metric = metric or self.search_metric
        ordered = self._sorted_values(metric)
        if self.direction(metric) == "maximize":
            return len(ordered) - int(np.searchsorted(ordered, value, side="right")) + 1
        return int(np.searchsorted(ordered, value, side="left")) + 1

    def percentile(self, value: float, metric: str | None = None) -> float:
        """The percentage of architectures that ``value`` matches or beats (100 = as good as the best)."""
        metric = metric or self.search_metric
        ordered = self._sorted_values(metric)
        if self.direction(metric) == "maximize":
            not_better = int(np.searchsorted(ordered, value, side="right"))
        else:
            not_better = len(ordered) - int(np.searchsorted(ordered, value, side="left"))
        return 100.0 * not_better / len(ordered)

    def regret(self, value: float, metric: str | None = None) -> float:
        """How far ``value`` is from the optimum of ``metric`` (≥ 0 for any table value)."""
        metric = metric or self.search_metric
        best = self.optimum(metric).value
        return float(best - value) if self.direction(metric) == "maximize" else float(value - best)


def check_config(space: SearchSpace, lookup: Mapping[str, Mapping[Any, int]], config: Any) -> list[int]:
    """The choice index of each dimension of ``config`` (in ``space`` order); ``ValueError``
    with every problem :meth:`SearchSpace.validate` finds when it is not a configuration."""
    if isinstance(config, Mapping) and len(config) == len(lookup):
        try:
            return [lookup[name][config[name]] for name in space.names]
        except (KeyError, TypeError):
            pass
    problems = space.validate(config) if isinstance(config, Mapping) else [
        f"expected a mapping from the dimensions {space.names} to values, got {config!r}"]
    if not problems:  # equal values of another type (e.g. numpy strings): retry by index
        try:
            return [space[name].index(config[name]) for name in space.names]  # type: ignore[union-attr]
        except ValueError as exc:
            problems = [str(exc)]
    raise ValueError(f"a configuration needs exactly the dimensions {space.names}: " + "; ".join(problems))


def choice_lookup(space: SearchSpace) -> dict[str, dict[Any, int]]:
    """For :func:`check_config`: each categorical dimension's choices → index."""
    out: dict[str, dict[Any, int]] = {}
    for dim in space:
        if not isinstance(dim, Categorical):
            raise TypeError(f"{dim.name}: only categorical dimensions are supported")
        out[dim.name] = {choice: i for i, choice in enumerate(dim.choices)}
    return out


def _rebuild(cls: type, kwargs: dict[str, Any], name: str) -> "LookupBenchmark":
    bench = cls(**kwargs)
    bench.name = name
    return bench


class LookupBenchmark(RankedTable):
    """Base of the look-up benchmarks (see the module docstring); follows
    :class:`~llmnas.benchmarks.registry.TabularBenchmark`.

    Subclasses set ``name``, ``search_metric``, ``report_metric``, ``description``,
    ``METRICS`` (numeric metrics, in :meth:`query`'s order), ``MINIMIZED`` (metric prefixes
    that are better low), ``self._numeric`` (metric → read-only array over the rows),
    ``self._ids`` (an integer identity per row, the ``index`` of :class:`Optimum`) and
    ``self._space``, and implement ``_row``, ``_config_of_row`` and ``_init_kwargs``.
    """

    name: str = "lookup"
    search_metric: str = ""
    report_metric: str = ""
    description: str = ""
    METRICS: tuple[str, ...] = ()
    MINIMIZED: tuple[str, ...] = ("params", "flops", "lat")

    _numeric: dict[str, np.ndarray]
    _ids: np.ndarray
    _space: SearchSpace

    # -- hooks ---------------------------------------------------------------------------------
    def _row(self, config: Mapping[str, Any]) -> int:
        """The table row of ``config``: ``ValueError`` when it is not a configuration of the
        space, :class:`AbsentArchitectureError` when the table lacks it."""
        raise NotImplementedError

    def _extras_of_row(self, row: int) -> dict[str, Any]:
        """Identifiers added to :meth:`query`'s metrics (e.g. the architecture string)."""
        return {"index": int(self._ids[row])}

    def _init_kwargs(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this benchmark (for pickling)."""
        raise NotImplementedError

    # -- pickling: the arguments only; the receiving process loads the table (once) ---------------
    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self._init_kwargs(), self.name)

    # -- the space -------------------------------------------------------------------------------
    def space(self) -> SearchSpace:
        """The search space (dimension names are the configuration keys)."""
        return self._space

    def __len__(self) -> int:
        """The number of architectures in the table."""
        return len(self._ids)

    def contains(self, config: Mapping[str, Any]) -> bool:
        """Whether :meth:`query` answers ``config`` (a configuration the table holds)."""
        return not self.problems(config)

    def problems(self, config: Mapping[str, Any]) -> list[str]:
        """Why ``config`` cannot be queried (malformed, or absent from the table); empty when
        it can. Fit as a host validator or a method's extra legality rule."""
        try:
            self._row(config)
        except (ValueError, KeyError) as exc:
            return [str(exc)]
        return []

    def configs(self) -> list[Config]:
        """Every configuration the table holds, in row order (one per architecture)."""
        return [self._config_of_row(row) for row in range(len(self))]

    # -- queries ---------------------------------------------------------------------------------
    def _metrics_of_row(self, row: int) -> dict[str, Any]:
        out: dict[str, Any] = {m: float(self._numeric[m][row]) for m in self.METRICS}
        out.update(self._extras_of_row(row))
        return out

    def query(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Every metric of one configuration (plain Python values) plus its identifiers.

        Raises ``ValueError`` when ``config`` is not a configuration of :meth:`space` and
        :class:`AbsentArchitectureError` (a ``KeyError``) when the table lacks it.
        """
        return self._metrics_of_row(self._row(config))

    def _check_metric(self, metric: str) -> np.ndarray:
        array = self._numeric.get(metric) if isinstance(metric, str) else None
        if array is None:
            raise ValueError(f"unknown metric {metric!r}; expected one of {list(self.METRICS)}")
        return array

    def objective(self, config: Mapping[str, Any], metric: str | None = None) -> float:
        """One metric (default ``search_metric``) of one configuration, as a float."""
        array = self._check_metric(metric or self.search_metric)
        return float(array[self._row(config)])

    def values(self, metric: str | None = None) -> np.ndarray:
        """The metric (default ``search_metric``) over every architecture of the table
        (read-only array, in row order)."""
        return self._check_metric(metric or self.search_metric)

    def direction(self, metric: str | None = None) -> str:
        """``"maximize"`` or ``"minimize"`` (params, FLOPs, latency)."""
        metric = metric or self.search_metric
        self._check_metric(metric)
        return "minimize" if metric.startswith(self.MINIMIZED) else "maximize"

    # -- hosts -----------------------------------------------------------------------------------
    def optuna_objective(self, metric: str | None = None) -> "LookupOptunaObjective":
        """An Optuna objective (needs no Optuna import): suggests every dimension with
        ``trial.suggest_categorical``, returns ``metric`` (default ``search_metric``) and
        stores the other metrics as user attributes. A configuration the table lacks returns
        ``nan`` (Optuna marks the trial FAIL and goes on) with the reason in the user
        attribute ``"absent"``. It pickles; set the study's direction with :meth:`direction`.
        """
        return LookupOptunaObjective(self, metric or self.search_metric)


class LookupOptunaObjective(TableOptunaObjective):
    """:class:`TableOptunaObjective` over a :class:`LookupBenchmark`
    (a table that may lack a configuration); see :meth:`LookupBenchmark.optuna_objective`.

    Example:
        >>> from llmnas.benchmarks.macro import NasBenchMacroTable
        >>> class Trial:  # any object with Optuna's two methods works
        ...     def __init__(self): self.user_attrs = {}
        ...     def suggest_categorical(self, name, choices): return choices[-1]
        ...     def set_user_attr(self, key, value): self.user_attrs[key] = value
        >>> trial = Trial()
        >>> NasBenchMacroTable().optuna_objective()(trial), trial.user_attrs["arch"]
        (93.06, '22222222')
    """


def read_only(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """A read-only float64 array of ``values``."""
    array = np.array(values, dtype=np.float64)
    array.flags.writeable = False
    return array


__all__ = [
    "AbsentArchitectureError", "LookupBenchmark", "LookupOptunaObjective", "Optimum", "RankedTable",
    "TableOptunaObjective",
]
