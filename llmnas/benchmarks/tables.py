"""Tabular NAS benchmarks: a trial is a table look-up.

:class:`NasBench201Table` wraps ``nb201.csv.gz`` (all 15,625 NAS-Bench-201 cells, three
datasets, params, FLOPs, latencies) as a benchmark: a :class:`~llmnas.space.SearchSpace` whose
dimensions are named like NNI's hub space ``NasBench201`` (``cell/0_1`` … ``cell/2_3``, ops
``none, skip_connect, conv_1x1, conv_3x3, avg_pool_3x3``), a query (configuration → metrics),
the known optimum and the rank of any value. The same configuration dict works as an NNI
sample and as Optuna parameters, so one study can run in both hosts.

Where the data is read from, first match wins:

1. the ``path`` argument (the file itself or a directory holding it);
2. the environment variable ``LLMNAS_BENCHMARKS_DIR`` (a directory);
3. ``shared/benchmarks`` in the current directory or any of its parents, then the same
   search from this package's location (the project's checkout keeps the data at
   ``../shared/benchmarks``);
4. the copy shipped inside the package (``llmnas/data``): only ``nb201.csv.gz``
   (:data:`PACKAGED_FILES`), so an installed wheel runs the demo from any folder. The other
   tables are never shipped and must be found by 1–3.

A table is parsed once per process and file (about 0.15 s) and shared by every instance.

Example:
    >>> table = NasBench201Table("cifar10")
    >>> metrics = table.query({edge: "conv_3x3" for edge in NB201_EDGES})
    >>> metrics["test_acc"], metrics["index"], metrics["ops"]
    (93.76, 1462, '333333')
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import numpy as np

from ..space import Categorical, Config, SearchSpace
from ._lookup import AbsentArchitectureError, Optimum, RankedTable, TableOptunaObjective

logger = logging.getLogger(__name__)

ENV_VAR = "LLMNAS_BENCHMARKS_DIR"
"""Environment variable naming a directory that holds the benchmark tables."""

NB201_FILE = "nb201.csv.gz"

PACKAGED_FILES: tuple[str, ...] = (NB201_FILE,)
"""The tables shipped as package data in ``llmnas/data`` (the last place looked)."""

NB201_EDGES: tuple[str, ...] = ("cell/0_1", "cell/0_2", "cell/1_2", "cell/0_3", "cell/1_3", "cell/2_3")
"""The six edges, in the table's order (``ops`` digits, ``arch_str``) and NNI's label order.
``cell/i_j`` carries node ``i``'s output into node ``j``."""

NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")
"""Op names as NNI's hub space ``NasBench201`` spells them; the position is the ``ops`` digit."""

NB201_TABLE_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The same ops as the official NAS-Bench-201 ``arch_str`` spells them."""

NB201_OP_DESCRIPTIONS: tuple[str, ...] = (
    "zero: the edge is cut, nothing flows",
    "identity: the input passes unchanged",
    "ReLU, 1x1 convolution, batch norm",
    "ReLU, 3x3 convolution, batch norm",
    "3x3 average pooling, stride 1",
)

NB201_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16")
_DATASET_ALIASES = {"imagenet16-120": "imagenet16", "imagenet16_120": "imagenet16"}

NB201_LATENCY_COLUMNS: tuple[str, ...] = (
    "lat_titan_rtx_1_ms", "lat_gold_6226_ms", "lat_eyeriss_ms", "lat_fpga_ms", "lat_pixel3_ms",
    "lat_raspi4_ms",
)
"""Latency columns (ms). The first, a Titan RTX GPU at batch size 1, is the default ``latency_ms``."""

_MINIMIZED_PREFIXES = ("params", "flops", "lat")

_OP_DIGIT: dict[str, int] = {op: i for i, op in enumerate(NB201_OPS)}
_OP_DIGIT.update({op: i for i, op in enumerate(NB201_TABLE_OPS)})  # official names as aliases


# --------------------------------------------------------------------------------------------
# Locating the data
# --------------------------------------------------------------------------------------------
def _search_roots() -> list[Path]:
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    roots: list[Path] = []
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "benchmarks"
            if candidate not in roots:
                roots.append(candidate)
    return roots


def packaged_file(filename: str) -> Path | None:
    """The copy of ``filename`` shipped inside the package, or ``None`` when there is none
    (a table other than :data:`PACKAGED_FILES`, or a build without the data)."""
    if filename not in PACKAGED_FILES:
        return None
    candidate = Path(__file__).resolve().parent.parent / "data" / filename
    return candidate if candidate.is_file() else None


def find_benchmark_file(filename: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Locate a benchmark table file; see the module docstring for the order.

    Args:
        filename: the table's file name, e.g. ``"nb201.csv.gz"``.
        path: the file itself or a directory holding it; when given, nothing else is tried.

    Raises:
        FileNotFoundError: the file is nowhere; the message lists where it looked and how to
            point at a copy.
    """
    hint = (
        f"Pass path='/dir/with/{filename}' (or the file itself), or set {ENV_VAR}=/dir/with/"
        f"{filename}; the tables ship in the project's ../shared/benchmarks folder."
    )
    if path is not None:
        given = Path(path).expanduser()
        candidate = given / filename if given.is_dir() else given
        if candidate.is_file():
            return candidate.resolve()
        raise FileNotFoundError(f"Benchmark table {filename!r} not found at {str(given)!r} (path argument). {hint}")
    env = os.environ.get(ENV_VAR)
    if env:
        candidate = Path(env).expanduser() / filename
        if candidate.is_file():
            return candidate.resolve()
        raise FileNotFoundError(
            f"Benchmark table {filename!r} not found in {env!r} (environment variable {ENV_VAR}). {hint}"
        )
    looked = []
    for root in _search_roots():
        candidate = root / filename
        if candidate.is_file():
            return candidate.resolve()
        looked.append(str(root))
    shipped = packaged_file(filename)
    if shipped is not None:
        logger.debug("Benchmark table %s: using the copy shipped in the package (%s)", filename, shipped)
        return shipped
    raise FileNotFoundError(
        f"Benchmark table {filename!r} not found: no path argument, {ENV_VAR} is not set, and it "
        f"is not in any of: {', '.join(looked)}. {hint}"
    )


# --------------------------------------------------------------------------------------------
# Loading (once per process and file)
# --------------------------------------------------------------------------------------------
class _Nb201Data:
    """The parsed table: numeric columns as float arrays, strings as lists, and the row of
    each cell by its base-5 op code."""

    TEXT_COLUMNS = ("arch_str", "ops")

    def __init__(self, file: Path):
        start = time.perf_counter()
        required = {"nb201_index", *self.TEXT_COLUMNS, *NB201_LATENCY_COLUMNS}
        for ds in NB201_DATASETS:
            required |= {f"{ds}_valid", f"{ds}_test", f"{ds}_test_12ep", f"{ds}_test_rank",
                         f"params_{ds}_M", f"flops_{ds}_M"}
        header, rows = read_table(file, sorted(required), "NAS-Bench-201")
        columns = dict(zip(header, zip(*rows))) if rows else {h: () for h in header}
        self.arch_str: list[str] = list(columns["arch_str"])
        self.ops: list[str] = list(columns["ops"])
        self.numeric: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            if name in self.TEXT_COLUMNS:
                continue
            try:
                array = np.array(values, dtype=np.float64)
            except ValueError:
                logger.debug("%s: column %r is not numeric; skipped", file, name)
                continue
            array.flags.writeable = False
            self.numeric[name] = array
        self.index = self.numeric["nb201_index"].astype(np.int64)
        self.row_of_index = {int(i): row for row, i in enumerate(self.index)}
        n_cells = len(NB201_OPS) ** len(NB201_EDGES)
        try:
            codes = np.array([int(ops, len(NB201_OPS)) for ops in self.ops], dtype=np.int64)
        except ValueError as exc:
            raise ValueError(f"{file}: the ops column must hold six digits 0-4 per row ({exc}).") from None
        codes[(codes < 0) | (codes >= n_cells)] = n_cells  # out of range: caught below
        self.row_of_code = np.full(n_cells + 1, -1, dtype=np.int64)
        self.row_of_code[codes] = np.arange(len(codes))
        self.row_of_code = self.row_of_code[:n_cells]
        absent = int((self.row_of_code < 0).sum())
        if len(rows) != n_cells or absent:
            raise ValueError(f"{file}: expected all {n_cells} cells once each, got {len(rows)} rows "
                             f"and {absent} cells absent.")
        self.load_seconds = time.perf_counter() - start
        logger.info("Loaded %s: %d cells in %.3f s", file, len(rows), self.load_seconds)


def _ops_code(ops: str) -> int:
    if len(ops) != len(NB201_EDGES) or any(c not in "01234" for c in ops):
        raise ValueError(f"ops must be {len(NB201_EDGES)} digits 0-4 (one per edge), got {ops!r}")
    return int(ops, len(NB201_OPS))


_PARSED: dict[tuple[Callable[[Path], Any], Path], Any] = {}
_PARSED_LOCK = threading.Lock()
_T = TypeVar("_T")


def read_table(file: Path, required: list[str], what: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a gzipped CSV benchmark table; ``ValueError`` naming the
    ``required`` columns it lacks ("not a ``what`` table")."""
    with gzip.open(file, "rt", newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(f"{file}: not a {what} table, columns missing: {missing}.")
    return header, rows


def load_once(file: Path, parse: Callable[[Path], _T]) -> _T:
    """``parse(file)``, once per process, parser and file (thread-safe): every benchmark
    instance over the same file shares the parsed table."""
    with _PARSED_LOCK:
        key = (parse, file)
        if key not in _PARSED:
            _PARSED[key] = parse(file)
        return _PARSED[key]


def _load_nb201(file: Path) -> _Nb201Data:
    return load_once(file, _Nb201Data)


# --------------------------------------------------------------------------------------------
# Plain maps between the NNI-style configuration, the ops digits and the official arch_str
# --------------------------------------------------------------------------------------------
def config_to_ops(config: Mapping[str, Any]) -> str:
    """The six ``ops`` digits of a configuration ``{"cell/0_1": "conv_3x3", …}``.

    Official op names (``nor_conv_3x3``) are accepted too. Raises ``ValueError`` naming the
    expected edges or ops.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"expected a mapping from the edges {list(NB201_EDGES)} to ops, got {config!r}")
    missing = [e for e in NB201_EDGES if e not in config]
    unknown = sorted(str(k) for k in config if k not in NB201_EDGES)
    if missing or unknown:
        raise ValueError(
            f"a NAS-Bench-201 configuration needs exactly the edges {list(NB201_EDGES)}; "
            f"missing {missing}, unknown {unknown}"
        )
    digits = []
    for edge in NB201_EDGES:
        op = config[edge]
        digit = _OP_DIGIT.get(op) if isinstance(op, str) else None
        if digit is None:
            raise ValueError(f"{edge}: {op!r} is not a NAS-Bench-201 op; expected one of {list(NB201_OPS)}")
        digits.append(str(digit))
    return "".join(digits)


def ops_to_config(ops: str) -> Config:
    """The configuration (NNI op names) of six ``ops`` digits, e.g. ``"333333"``."""
    _ops_code(ops)
    return {edge: NB201_OPS[int(d)] for edge, d in zip(NB201_EDGES, ops)}


def ops_to_arch_str(ops: str) -> str:
    """The official ``arch_str`` of six ``ops`` digits."""
    _ops_code(ops)
    names = [f"{NB201_TABLE_OPS[int(d)]}~{edge[5]}" for edge, d in zip(NB201_EDGES, ops)]
    return f"|{names[0]}|+|{names[1]}|{names[2]}|+|{names[3]}|{names[4]}|{names[5]}|"


def arch_str_to_ops(arch_str: str) -> str:
    """The six ``ops`` digits of an official ``arch_str``
    (``|nor_conv_3x3~0|+|…~0|…~1|+|…~0|…~1|…~2|``)."""
    nodes = arch_str.strip().split("+") if isinstance(arch_str, str) else []
    digits: list[str] = []
    try:
        for target, node in enumerate(nodes, start=1):
            parts = node.strip().strip("|").split("|")
            if len(parts) != target:
                raise ValueError
            for source, part in enumerate(parts):
                op, _, src = part.partition("~")
                if int(src) != source or op not in NB201_TABLE_OPS:
                    raise ValueError
                digits.append(str(NB201_TABLE_OPS.index(op)))
    except ValueError:
        digits = []
    if len(digits) != len(NB201_EDGES):
        raise ValueError(
            f"not a NAS-Bench-201 arch_str: {arch_str!r}; expected "
            f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op one of {list(NB201_TABLE_OPS)}"
        )
    return "".join(digits)


def config_to_arch_str(config: Mapping[str, Any]) -> str:
    """The official ``arch_str`` of a configuration."""
    return ops_to_arch_str(config_to_ops(config))


def arch_str_to_config(arch_str: str) -> Config:
    """The configuration (NNI op names) of an official ``arch_str``."""
    return ops_to_config(arch_str_to_ops(arch_str))


# --------------------------------------------------------------------------------------------
# The benchmark (its optimum, best cells, rank, percentile and regret: ``RankedTable``)
# --------------------------------------------------------------------------------------------
class NasBench201Table(RankedTable):
    """NAS-Bench-201 on one dataset as a benchmark: space, query, optimum, rank.

    Configurations use NNI's hub-space labels and op names, so a sample of NNI's
    ``NasBench201`` space and the parameters of an Optuna trial from :meth:`optuna_objective`
    are both valid inputs to :meth:`query`.

    Example:
        >>> table = NasBench201Table("cifar100")
        >>> best = table.optimum("test_acc")
        >>> round(best.value, 4), best.index
        (73.5133, 9930)
        >>> table.query(best.config)["arch_str"]
        '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
        >>> table.rank(72.0, "test_acc"), round(table.percentile(72.0, "test_acc"), 2)
        (55, 99.65)

    Args:
        dataset: ``"cifar10"``, ``"cifar100"`` or ``"imagenet16"`` (ImageNet16-120).
        path: the table file or a directory holding ``nb201.csv.gz``; see the module docstring
            for where it is looked for otherwise.
        latency_column: the latency column reported as ``latency_ms``; default the Titan RTX
            GPU at batch size 1. All latency columns are also returned under their own names.

    Metrics returned by :meth:`query`: ``valid_acc``, ``test_acc`` (200 epochs, %, mean over
    seeds), ``test_acc_12ep`` (12 epochs, one run), ``params_M``, ``flops_M``, ``latency_ms``,
    every ``lat_*_ms`` column, ``test_rank`` (1 = best test accuracy on the dataset),
    ``index`` (official), ``arch_str`` (official), ``ops`` (six digits).
    """

    METRICS: tuple[str, ...] = (
        "valid_acc", "test_acc", "test_acc_12ep", "params_M", "flops_M", "latency_ms",
        *NB201_LATENCY_COLUMNS, "test_rank",
    )
    """The numeric metrics, usable in :meth:`objective`, :meth:`optimum`, :meth:`rank`…"""

    description: str = (
        "A cell of 4 nodes; node 0 is the cell input, node 3 its output. Edge "
        "cell/i_j applies an op to node i's output and feeds node j; a node sums its incoming "
        "edges. The network stacks the cell 15 times (3 stages of 5 cells with 16, 32 and 64 "
        "channels, a residual block between stages)."
    )
    """A short text about the space's structure, fit for prompts (it names no benchmark)."""

    search_metric: str = "valid_acc"
    """What a search optimizes (the standard protocol: search on validation accuracy)."""
    report_metric: str = "test_acc"
    """What is reported for the configuration with the best validation accuracy so far."""

    def __init__(
        self,
        dataset: str = "cifar10",
        *,
        path: str | os.PathLike[str] | None = None,
        latency_column: str = NB201_LATENCY_COLUMNS[0],
    ):
        key = self.normalize_dataset(dataset)
        if latency_column not in NB201_LATENCY_COLUMNS:
            raise ValueError(f"unknown latency column {latency_column!r}; expected one of {list(NB201_LATENCY_COLUMNS)}")
        self.dataset: str = key
        self.name: str = f"nb201-{key}"
        self.latency_column: str = latency_column
        self.file: Path = find_benchmark_file(NB201_FILE, path)
        self._data = _load_nb201(self.file)
        self._columns: dict[str, str] = {
            "valid_acc": f"{key}_valid",
            "test_acc": f"{key}_test",
            "test_acc_12ep": f"{key}_test_12ep",
            "params_M": f"params_{key}_M",
            "flops_M": f"flops_{key}_M",
            "latency_ms": latency_column,
            "test_rank": f"{key}_test_rank",
            **{c: c for c in NB201_LATENCY_COLUMNS},
        }
        self._ids: np.ndarray = self._data.index

    @staticmethod
    def normalize_dataset(dataset: str) -> str:
        """The canonical dataset name (``"ImageNet16-120"`` → ``"imagenet16"``); raises
        ``ValueError`` listing the valid names."""
        key = dataset.strip().lower() if isinstance(dataset, str) else None
        key = _DATASET_ALIASES.get(key, key) if key is not None else None
        if key not in NB201_DATASETS:
            raise ValueError(f"unknown NAS-Bench-201 dataset {dataset!r}; expected one of {list(NB201_DATASETS)}")
        return str(key)

    def __repr__(self) -> str:
        return f"NasBench201Table({self.dataset!r}, path={str(self.file)!r})"

    # Pickling keeps the file's location only; the receiving process loads it (once), from the
    # same path if it exists there, else from wherever the usual search finds it.
    def __getstate__(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "path": str(self.file), "latency_column": self.latency_column}

    def __setstate__(self, state: dict[str, Any]) -> None:
        path = state["path"] if Path(state["path"]).is_file() else None
        self.__init__(state["dataset"], path=path, latency_column=state["latency_column"])  # type: ignore[misc]

    # -- the space ---------------------------------------------------------------------------
    @staticmethod
    def space() -> SearchSpace:
        """The search space: six categorical edges named and ordered like NNI's
        ``NasBench201`` labels, each over :data:`NB201_OPS` with a short description per op."""
        return SearchSpace(Categorical(edge, NB201_OPS, NB201_OP_DESCRIPTIONS) for edge in NB201_EDGES)

    def __len__(self) -> int:
        return len(self._data.ops)

    # -- queries -----------------------------------------------------------------------------
    def _row(self, config: Mapping[str, Any]) -> int:
        return int(self._data.row_of_code[int(config_to_ops(config), len(NB201_OPS))])

    def _config_of_row(self, row: int) -> Config:
        return ops_to_config(self._data.ops[row])

    def _metrics_of_row(self, row: int) -> dict[str, Any]:
        numeric = self._data.numeric
        out: dict[str, Any] = {name: float(numeric[col][row]) for name, col in self._columns.items()}
        out["test_rank"] = int(out["test_rank"])
        out["index"] = int(self._data.index[row])
        out["arch_str"] = self._data.arch_str[row]
        out["ops"] = self._data.ops[row]
        return out

    def query(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """All metrics of one cell (see the class docstring), as plain Python values.

        Raises ``ValueError`` naming the expected edges or ops when ``config`` is not a cell.
        """
        return self._metrics_of_row(self._row(config))

    def query_index(self, index: int) -> dict[str, Any]:
        """All metrics of the cell with official index ``index`` (0–15624)."""
        valid = isinstance(index, (int, np.integer)) and not isinstance(index, bool)
        row = self._data.row_of_index.get(int(index)) if valid else None
        if row is None:
            raise ValueError(f"index must be an official NAS-Bench-201 index 0-{len(self) - 1}, got {index!r}")
        return self._metrics_of_row(row)

    def config_of_index(self, index: int) -> Config:
        """The configuration of the cell with official index ``index``."""
        return ops_to_config(self.query_index(index)["ops"])

    def _check_metric(self, metric: str) -> str:
        if metric not in self._columns:
            raise ValueError(f"unknown metric {metric!r}; expected one of {list(self.METRICS)}")
        return self._columns[metric]

    def objective(self, config: Mapping[str, Any], metric: str = "valid_acc") -> float:
        """One metric of one cell, as a Python float."""
        column = self._check_metric(metric)
        return float(self._data.numeric[column][self._row(config)])

    def values(self, metric: str = "valid_acc") -> np.ndarray:
        """The metric over all cells (read-only array, in the table's row order)."""
        return self._data.numeric[self._check_metric(metric)]

    def direction(self, metric: str = "valid_acc") -> str:
        """``"maximize"`` for accuracies, ``"minimize"`` for params, FLOPs, latency and rank."""
        self._check_metric(metric)
        return "minimize" if metric.startswith(_MINIMIZED_PREFIXES) or metric == "test_rank" else "maximize"

    @property
    def source_description(self) -> str:
        """These cells as a LAPT source, in words for prompts and provenance (no benchmark name)."""
        return f"the best architectures of the same search space trained on another dataset ({self.dataset})"

    # -- hosts -------------------------------------------------------------------------------
    def optuna_objective(self, metric: str = "valid_acc") -> Nb201OptunaObjective:
        """An Optuna objective over this table; needs no Optuna import (duck-typed trial).

        The returned callable suggests each edge with ``trial.suggest_categorical(edge,
        NB201_OPS)``, returns ``metric`` and stores the other metrics with
        ``trial.set_user_attr``. It pickles (for multi-process runs). Set the study's direction
        with :meth:`direction`.

        Example:
            >>> import optuna                                            # doctest: +SKIP
            >>> table = NasBench201Table("cifar10")                      # doctest: +SKIP
            >>> study = optuna.create_study(direction=table.direction())  # doctest: +SKIP
            >>> study.optimize(table.optuna_objective(), n_trials=20)    # doctest: +SKIP
        """
        return Nb201OptunaObjective(self, metric)


class Nb201OptunaObjective(TableOptunaObjective):
    """:class:`TableOptunaObjective` over a :class:`NasBench201Table` (every cell is in the
    table); see :meth:`NasBench201Table.optuna_objective`.

    Example:
        >>> objective = Nb201OptunaObjective(NasBench201Table("cifar10"), "test_acc")
        >>> objective.metric
        'test_acc'
    """

    def __init__(self, table: NasBench201Table, metric: str = "valid_acc"):
        super().__init__(table, metric)


__all__ = [
    "AbsentArchitectureError", "ENV_VAR", "NB201_DATASETS", "NB201_EDGES", "NB201_FILE", "NB201_LATENCY_COLUMNS",
    "NB201_OPS", "NB201_OP_DESCRIPTIONS", "NB201_TABLE_OPS", "NasBench201Table",
    "Nb201OptunaObjective", "Optimum", "TableOptunaObjective", "arch_str_to_config", "arch_str_to_ops",
    "config_to_arch_str", "config_to_ops", "find_benchmark_file", "ops_to_arch_str",
    "ops_to_config",
]
