"""NAS-Bench-Graph as benchmarks: graph neural networks on nine node-level graph datasets.

The data ships in the PyPI package ``nas-bench-graph`` (Apache-2.0; pure Python, no
dependencies: ``pip install nas-bench-graph``; in this project's ``dev`` extra), as
one pickled dict per dataset (``nas_bench_graph/light/<dataset>.bench``). Nothing is copied
into this repository; the package is imported only when a benchmark is built.

The space: 4 computing nodes; ``link`` says which node feeds each of them (one of 9
patterns; digit *i* is the input of node *i+1*, 0 being the graph's node features, and
every node that feeds no other node feeds the output), ``op1`` … ``op4`` the GNN layer
each node applies. So 9 × 9^4 = 59,049 configurations (9 × 5^4 on ``proteins``, which
has 5 ops). Many are the same network written differently (isomorphic); the table stores
each network once (26,206; 2,021 on proteins) and :meth:`GraphBenchTable.query` maps a
configuration to its entry with the package's own canonical hash, so every configuration
but the 9 with four ``skip`` ops (no layer at all: not in the table, an
:class:`~llmnas.benchmarks._lookup.AbsentArchitectureError`) has metrics.

Protocol: search on ``valid_perf``, report ``test_perf`` of the configuration with the best
validation score, both as the package stores them (fractions: accuracy; on ``proteins``,
presumably OGB's ROC-AUC).

Example:
    >>> bench = GraphBenchTable("cora")
    >>> len(bench), bench.space().size()
    (26206, 59049.0)
    >>> round(bench.optimum("test_perf").value, 4)
    0.8313
    >>> config = {"link": "0123", "op1": "gcn", "op2": "gcn", "op3": "skip", "op4": "skip"}
    >>> key = bench.query(config)["key"]
    >>> key, key_to_config(key)  # the canonical form: the skip nodes come first
    (88811, {'link': '0123', 'op1': 'skip', 'op2': 'skip', 'op3': 'gcn', 'op4': 'gcn'})
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..space import Categorical, Config, SearchSpace
from ._lookup import AbsentArchitectureError, LookupBenchmark, check_config, choice_lookup, read_only
from .tables import find_benchmark_file, load_once

logger = logging.getLogger(__name__)

GRAPH_DATASETS: tuple[str, ...] = (
    "cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins",
)
GRAPH_LINKS: tuple[str, ...] = ("0000", "0001", "0011", "0012", "0013", "0111", "0112", "0122", "0123")
"""The link patterns in the benchmark's order (its ``link_id``): digit *i* is the input of
node *i+1* (0: the node features)."""

GRAPH_OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
"""The ops in the benchmark's order (the key's op digits)."""

GRAPH_OPS_PROTEINS: tuple[str, ...] = ("gcn", "sage", "arma", "fc", "skip")
"""The 5 ops measured on ``proteins``."""

GRAPH_OP_DESCRIPTIONS: dict[str, str] = {
    "gat": "graph attention layer (GAT, 2 heads)",
    "gcn": "graph convolution (GCN)",
    "gin": "graph isomorphism network layer (GIN)",
    "cheb": "Chebyshev spectral graph convolution",
    "sage": "GraphSAGE layer (mean of neighbours)",
    "arma": "ARMA graph convolution",
    "graph": "k-GNN layer (GraphConv: sum of neighbours)",
    "fc": "fully connected layer, no message passing",
    "skip": "identity: the input passes unchanged",
}

GRAPH_NODE_OPS: tuple[str, ...] = ("op1", "op2", "op3", "op4")

_DESCRIPTION = (
    "A graph neural network of 4 computing nodes for node classification. 'link' gives each "
    "node's input, one digit per node: digit i is the input of node i+1, 0 the graph's node "
    "features, k > 0 node k. Node k applies the layer op<k>; every node that feeds no other "
    "node feeds the output (their outputs are combined, then a classifier)."
)


def _link_description(link: str) -> str:
    inputs = ", ".join(f"node{i + 1}<-{'input' if d == '0' else 'node' + d}" for i, d in enumerate(link))
    leaves = [f"node{k}" for k in range(1, 5) if str(k) not in link]
    return f"{inputs}; output <- {', '.join(leaves)}"


def _import_package() -> Any:
    try:
        import nas_bench_graph  # noqa: F401 (pure Python: no torch, no NNI)
        from nas_bench_graph.architecture import Arch
    except ImportError as exc:
        raise ImportError(
            "NAS-Bench-Graph needs the package nas-bench-graph (pure Python, no dependencies; its "
            "wheel holds the data): pip install nas-bench-graph (it is in llmnas's dev extra)."
        ) from exc
    return Arch


def default_graph_file(dataset: str) -> Path:
    """Where the installed package keeps ``<dataset>.bench``."""
    _import_package()
    import nas_bench_graph

    return Path(nas_bench_graph.__file__).resolve().parent / "light" / f"{dataset}.bench"


# --------------------------------------------------------------------------------------------
# Loading (once per process and file)
# --------------------------------------------------------------------------------------------
class _GraphData:
    """One dataset's table, rows sorted by key; the key of each configuration is cached."""

    def __init__(self, file: Path):
        start = time.perf_counter()
        with open(file, "rb") as handle:
            bench = pickle.load(handle)  # the package's own format (a dict); trusted files only
        if not isinstance(bench, dict) or not bench:
            raise ValueError(f"{file}: not a NAS-Bench-Graph table (a non-empty dict)")
        keys = sorted(bench)
        for key in keys:
            entry = bench[key]
            ok = isinstance(key, int) and 0 <= key < len(GRAPH_LINKS) * 10**4 and isinstance(entry, dict) \
                and all(int(d) < len(GRAPH_OPS) for d in f"{key % 10**4:04d}")
            if not ok or not {"valid_perf", "perf", "latency", "para"} <= set(entry):
                raise ValueError(f"{file}: unexpected entry {key!r}: {entry!r}")
        self.ids = np.array(keys, dtype=np.int64)
        self.row_of_key = {key: row for row, key in enumerate(keys)}

        def column(name: str) -> np.ndarray:
            return read_only([float(bench[k][name]) for k in keys])

        self.numeric: dict[str, np.ndarray] = {
            "valid_perf": column("valid_perf"),
            "test_perf": column("perf"),
            "latency": column("latency"),
            "params_M": column("para"),
        }
        self.ops_used = sorted({int(d) for k in keys for d in f"{k % 10**4:04d}"})
        self.key_of_code: dict[tuple[int, ...], int] = {}
        self.lock = threading.Lock()
        self.load_seconds = time.perf_counter() - start
        logger.info("Loaded %s: %d architectures in %.3f s", file, len(keys), self.load_seconds)


def _load(file: Path) -> _GraphData:
    return load_once(file, _GraphData)


def key_to_config(key: int) -> Config:
    """The configuration of a benchmark key (``link_id·10^4`` + four op digits)."""
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < len(GRAPH_LINKS) * 10**4:
        raise ValueError(f"not a NAS-Bench-Graph key: {key!r}")
    digits = f"{int(key) % 10**4:04d}"
    if any(int(d) >= len(GRAPH_OPS) for d in digits):
        raise ValueError(f"not a NAS-Bench-Graph key: {key!r} (op digits are 0-{len(GRAPH_OPS) - 1})")
    config: Config = {"link": GRAPH_LINKS[int(key) // 10**4]}
    config.update({name: GRAPH_OPS[int(d)] for name, d in zip(GRAPH_NODE_OPS, digits)})
    return config


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------
class GraphBenchTable(LookupBenchmark):
    """NAS-Bench-Graph on one dataset; see the module docstring.

    Args:
        dataset: one of :data:`GRAPH_DATASETS`.
        path: a ``<dataset>.bench`` file of the package's light format, or a directory
            holding it; default: the installed package's copy. (A pickle: pass trusted files
            only.)

    Metrics returned by :meth:`query`: ``valid_perf``, ``test_perf`` (fractions),
    ``latency`` and ``params_M`` (the stored ``latency`` and ``para``: seconds of inference
    and millions of parameters, judging by their magnitudes); identifiers ``key`` and
    ``index`` (both the benchmark's key of the canonical form).
    """

    METRICS: tuple[str, ...] = ("valid_perf", "test_perf", "latency", "params_M")
    search_metric: str = "valid_perf"
    report_metric: str = "test_perf"
    description: str = _DESCRIPTION

    def __init__(self, dataset: str = "cora", *, path: str | os.PathLike[str] | None = None):
        key = dataset.strip().lower() if isinstance(dataset, str) else dataset
        if key not in GRAPH_DATASETS:
            raise ValueError(f"unknown NAS-Bench-Graph dataset {dataset!r}; expected one of {list(GRAPH_DATASETS)}")
        self.dataset: str = str(key)
        self.name: str = f"graph-{key}"
        self._arch_class = _import_package()
        self.file: Path = find_benchmark_file(f"{key}.bench", path) if path is not None else default_graph_file(key)
        if not self.file.is_file():
            raise FileNotFoundError(f"{self.file}: the nas-bench-graph package lacks {key}.bench; reinstall it")
        self._data = _load(self.file)
        self._numeric = self._data.numeric
        self._ids = self._data.ids
        self.ops: tuple[str, ...] = tuple(GRAPH_OPS[i] for i in self._data.ops_used)
        """The ops this dataset measured (all 9; 5 on proteins)."""
        self._space = SearchSpace([
            Categorical("link", GRAPH_LINKS, [_link_description(link) for link in GRAPH_LINKS]),
            *(Categorical(name, self.ops, [GRAPH_OP_DESCRIPTIONS[op] for op in self.ops]) for name in GRAPH_NODE_OPS),
        ])
        self._lookup = choice_lookup(self._space)
        self._op_digit = [GRAPH_OPS.index(op) for op in self.ops]

    def __repr__(self) -> str:
        return f"GraphBenchTable({self.dataset!r}, path={str(self.file)!r})"

    def _init_kwargs(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "path": str(self.file) if self.file.is_file() else None}

    def key_of(self, config: Mapping[str, Any]) -> int:
        """The benchmark key of the canonical form of ``config`` (``ValueError`` when it is not
        a configuration of the space)."""
        link, *ops = check_config(self._space, self._lookup, config)
        code = (link, *ops)
        key = self._data.key_of_code.get(code)
        if key is None:
            arch = self._arch_class([int(c) for c in GRAPH_LINKS[link]], [self.ops[i] for i in ops])
            key = int(arch.valid_hash())
            with self._data.lock:
                self._data.key_of_code[code] = key
        return key

    def _row(self, config: Mapping[str, Any]) -> int:
        key = self.key_of(config)
        row = self._data.row_of_key.get(key)
        if row is None:
            if all(config[name] == "skip" for name in GRAPH_NODE_OPS):
                reason = "four skip ops make a network without any layer"
            else:
                reason = "the benchmark did not measure it"
            raise AbsentArchitectureError(f"this configuration (canonical key {key}) is not in the table: {reason}")
        return row

    def _config_of_row(self, row: int) -> Config:
        return key_to_config(int(self._ids[row]))

    def _extras_of_row(self, row: int) -> dict[str, Any]:
        return {"key": int(self._ids[row]), "index": int(self._ids[row])}


def graph_names() -> list[str]:
    """The registry names, ``graph-<dataset>``."""
    return [f"graph-{d}" for d in GRAPH_DATASETS]


__all__ = [
    "GRAPH_DATASETS", "GRAPH_LINKS", "GRAPH_NODE_OPS", "GRAPH_OPS", "GRAPH_OPS_PROTEINS",
    "GRAPH_OP_DESCRIPTIONS", "GraphBenchTable", "default_graph_file", "graph_names", "key_to_config",
]
