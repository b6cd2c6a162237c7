"""Every tabular benchmark behind one protocol and one name, for the comparison runner.

A :class:`TabularBenchmark` is a search space plus a look-up: the runner searches on
``search_metric`` and reports ``report_metric`` of the best configuration found so far (the
standard protocol: search on validation accuracy, report test accuracy). Benchmarks are
registered under short names and built lazily by :func:`load_benchmark`:

- ``nb201-{cifar10,cifar100,imagenet16}``: NAS-Bench-201 (:mod:`llmnas.benchmarks.tables`);
- ``macro-cifar10``: NAS-Bench-Macro (:mod:`llmnas.benchmarks.macro`);
- ``transnas-{micro,macro}-<task>``: the TransNAS-Bench-101 subset, 7 tasks
  (:mod:`llmnas.benchmarks.transnas`);
- ``graph-<dataset>``: NAS-Bench-Graph, 9 datasets, from the ``nas-bench-graph`` package
  (:mod:`llmnas.benchmarks.graph`).

Some benchmarks hold only part of their space's configurations (NAS-Bench-Graph's 9
configurations without any layer; TransNAS-Bench-101 with ``encoding="cells"``): their
``query`` raises :class:`~llmnas.benchmarks._lookup.AbsentArchitectureError` (a ``KeyError``)
for those, and ``problems(config)`` names the reason beforehand; use
``getattr(bench, "problems", None)`` as an extra host rule.

Example:
    >>> sorted(n for n in benchmark_names() if n.startswith("nb201"))
    ['nb201-cifar10', 'nb201-cifar100', 'nb201-imagenet16']
    >>> bench = load_benchmark("nb201-cifar100")
    >>> bench.name, bench.search_metric, bench.report_metric
    ('nb201-cifar100', 'valid_acc', 'test_acc')
    >>> round(bench.optimum(bench.report_metric).value, 4)
    73.5133
    >>> len(benchmark_names()), load_benchmark("transnas-macro-jigsaw").space().names
    (27, ['arch'])
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from ..space import SearchSpace
from .graph import GRAPH_DATASETS, GraphBenchTable
from .macro import NasBenchMacroTable
from .tables import NB201_DATASETS, NasBench201Table, Optimum
from .transnas import TRANSNAS_SPACES, TRANSNAS_TASKS, TransNas101Table

__all__ = ["TabularBenchmark", "benchmark_names", "load_benchmark", "register_benchmark"]


@runtime_checkable
class TabularBenchmark(Protocol):
    """What the runner needs from a benchmark (:class:`~llmnas.benchmarks.NasBench201Table`
    is one)."""

    name: str
    """The registry name, e.g. ``"nb201-cifar10"``."""
    search_metric: str
    """The metric a search optimizes (e.g. ``"valid_acc"``)."""
    report_metric: str
    """The metric reported for the configuration with the best ``search_metric`` so far."""
    description: str
    """The space's structure in words, for prompts (names no benchmark)."""

    def space(self) -> SearchSpace:
        """The search space (dimension names are the configuration keys)."""
        ...

    def query(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Every metric of one configuration (``search_metric`` and ``report_metric`` included)."""
        ...

    def direction(self, metric: str) -> str:
        """``"maximize"`` or ``"minimize"``."""
        ...

    def values(self, metric: str) -> np.ndarray:
        """``metric`` over the whole table."""
        ...

    def optimum(self, metric: str) -> Optimum:
        """The best value of ``metric`` and a configuration reaching it."""
        ...


_REGISTRY: dict[str, Callable[[str | os.PathLike[str] | None], TabularBenchmark]] = {}


def register_benchmark(name: str, factory: Callable[[str | os.PathLike[str] | None], TabularBenchmark]) -> None:
    """Register ``factory(path)`` under ``name`` (``path``: a file or folder of the data, or
    ``None`` for the usual search, see :mod:`llmnas.benchmarks.tables`)."""
    if not isinstance(name, str) or not name or name != name.strip().lower():
        raise ValueError(f"a benchmark name must be a non-empty lower-case string, got {name!r}")
    _REGISTRY[name] = factory


def benchmark_names() -> list[str]:
    """The registered names, sorted."""
    return sorted(_REGISTRY)


def load_benchmark(name: str, path: str | os.PathLike[str] | None = None) -> TabularBenchmark:
    """The benchmark registered as ``name``; ``ValueError`` lists the known names."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {benchmark_names()}")
    bench = _REGISTRY[key](path)
    if getattr(bench, "name", None) != key:
        bench.name = key  # type: ignore[misc]
    return bench


for _dataset in NB201_DATASETS:
    register_benchmark(f"nb201-{_dataset}", lambda path, _d=_dataset: NasBench201Table(_d, path=path))

register_benchmark("macro-cifar10", lambda path: NasBenchMacroTable(path=path))
for _space in TRANSNAS_SPACES:
    for _task in TRANSNAS_TASKS:
        register_benchmark(f"transnas-{_space}-{_task}",
                           lambda path, _s=_space, _t=_task: TransNas101Table(_s, _t, path=path))
for _dataset in GRAPH_DATASETS:  # needs the nas-bench-graph package when loaded, not when registered
    register_benchmark(f"graph-{_dataset}", lambda path, _d=_dataset: GraphBenchTable(_d, path=path))
