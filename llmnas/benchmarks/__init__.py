"""Tabular NAS benchmarks: real published measurements, so a search is judged in seconds.

See :mod:`llmnas.benchmarks.tables` for where the data is read from and
:mod:`llmnas.benchmarks._lookup` for what every table shares (optimum, rank, the Optuna
objective). Comparing search methods on these tables is the application's job
(:mod:`llmnas.app.runner`, ``llmnas compare``), which, unlike this package, uses the hosts.
"""

from .tables import (
    ENV_VAR,
    NB201_DATASETS,
    NB201_EDGES,
    NB201_FILE,
    NB201_LATENCY_COLUMNS,
    NB201_OP_DESCRIPTIONS,
    NB201_OPS,
    NB201_TABLE_OPS,
    NasBench201Table,
    Nb201OptunaObjective,
    Optimum,
    TableOptunaObjective,
    arch_str_to_config,
    arch_str_to_ops,
    config_to_arch_str,
    config_to_ops,
    find_benchmark_file,
    ops_to_arch_str,
    ops_to_config,
)
from ._lookup import AbsentArchitectureError, LookupBenchmark, LookupOptunaObjective
from .graph import GRAPH_DATASETS, GraphBenchTable
from .macro import MACRO_LAYERS, MACRO_OPS, NasBenchMacroTable
from .registry import TabularBenchmark, benchmark_names, load_benchmark, register_benchmark
from .transnas import TRANSNAS_SPACES, TRANSNAS_TASKS, TransNas101Table

__all__ = [
    "TabularBenchmark", "benchmark_names", "load_benchmark", "register_benchmark",
    "AbsentArchitectureError", "LookupBenchmark", "LookupOptunaObjective",
    "GRAPH_DATASETS", "GraphBenchTable", "MACRO_LAYERS", "MACRO_OPS", "NasBenchMacroTable",
    "TRANSNAS_SPACES", "TRANSNAS_TASKS", "TransNas101Table",
    "ENV_VAR", "NB201_DATASETS", "NB201_EDGES", "NB201_FILE", "NB201_LATENCY_COLUMNS",
    "NB201_OPS", "NB201_OP_DESCRIPTIONS", "NB201_TABLE_OPS", "NasBench201Table",
    "Nb201OptunaObjective", "Optimum", "TableOptunaObjective", "arch_str_to_config", "arch_str_to_ops",
    "config_to_arch_str", "config_to_ops", "find_benchmark_file", "ops_to_arch_str",
    "ops_to_config",
]
