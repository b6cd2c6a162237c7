"""NAS-Bench-Macro on CIFAR-10 as a benchmark: 6,561 networks, each trained three times.

The table ``nas_bench_macro_cifar10.csv.gz`` (found like every table, see
:mod:`llmnas.benchmarks.tables`) holds, per architecture, the CIFAR-10 *test* accuracy of
three independent trainings (seeds 0, 1, 2), their mean and standard deviation, parameters
and FLOPs. The space: 8 layers in sequence, each one of ``identity`` (``0`` in the table's
``arch`` string), ``mb_k3_e3`` (``1``, a MobileNetV2 block with a 3x3 depthwise kernel and
expansion ratio 3) and ``mb_k5_e6`` (``2``, kernel 5, expansion 6): 3^8 = 6,561, all present.

Protocol (``search_metric`` → ``report_metric``): the benchmark has no validation split, so
searching and reporting the same 3-seed mean would select on the very numbers that are
reported (an optimistic, noise-free search that no real NAS run has). Instead a search sees
the accuracy of *one* training run, ``test_acc_seed0`` (a noisy score, as a real validation
run is), and the result is the mean over the two *other* runs, ``test_acc_heldout`` (seeds 1
and 2): the reported number is independent of the training noise the search selected on
(the runs share the test images: there is nothing else to select on). The usual figure, the
3-seed mean ``test_acc`` (best 93.127, mean 90.25), is returned too, for comparison with
published results.

Example:
    >>> bench = NasBenchMacroTable()
    >>> len(bench), bench.search_metric, bench.report_metric
    (6561, 'test_acc_seed0', 'test_acc_heldout')
    >>> best = bench.optimum("test_acc")
    >>> round(best.value, 3), best.ties, bench.query(best.config)["arch"]
    (93.127, (6473, 6477), '22212202')
    >>> metrics = bench.query({f"layer/{i}": "mb_k3_e3" for i in range(1, 9)})
    >>> metrics["test_acc_seed0"], metrics["test_acc_heldout"], metrics["arch"]
    (91.89, 91.95, '11111111')
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..space import Categorical, Config, SearchSpace
from ._lookup import LookupBenchmark, check_config, choice_lookup, read_only
from .tables import find_benchmark_file, load_once, read_table

logger = logging.getLogger(__name__)

MACRO_FILE = "nas_bench_macro_cifar10.csv.gz"

MACRO_LAYERS: tuple[str, ...] = tuple(f"layer/{i}" for i in range(1, 9))
"""The 8 searchable layers, input to output (the digits of the ``arch`` string, in order)."""

MACRO_OPS: tuple[str, ...] = ("identity", "mb_k3_e3", "mb_k5_e6")
"""The layer choices; the position is the ``arch`` digit."""

MACRO_OP_DESCRIPTIONS: tuple[str, ...] = (
    "no block: the input passes unchanged (a 1x1 convolution with batch norm where the layer "
    "halves the resolution and doubles the channels)",
    "MobileNetV2 inverted residual block, 3x3 depthwise convolution, expansion ratio 3",
    "MobileNetV2 inverted residual block, 5x5 depthwise convolution, expansion ratio 6",
)

_SEED_COLUMNS = ("test_acc_seed0", "test_acc_seed1", "test_acc_seed2")
_N_ARCHS = len(MACRO_OPS) ** len(MACRO_LAYERS)


class _MacroData:
    """The parsed table, rows ordered by the architecture's base-3 code (row = index)."""

    def __init__(self, file: Path):
        start = time.perf_counter()
        required = ["arch", *_SEED_COLUMNS, "test_acc_mean", "test_acc_std", "params", "flops"]
        header, rows = read_table(file, required, "NAS-Bench-Macro")
        col = {name: header.index(name) for name in required}
        codes = []
        for row in rows:
            arch = row[col["arch"]]
            if len(arch) != len(MACRO_LAYERS) or any(c not in "012" for c in arch):
                raise ValueError(f"{file}: arch must be 8 digits 0-2, got {arch!r}")
            codes.append(int(arch, 3))
        if sorted(codes) != list(range(_N_ARCHS)):
            raise ValueError(f"{file}: expected all {_N_ARCHS} architectures once each, got {len(rows)} rows "
                             f"({len(set(codes))} distinct).")
        order = np.argsort(codes)
        rows = [rows[i] for i in order]
        self.arch: list[str] = [row[col["arch"]] for row in rows]

        def column(name: str, scale: float = 1.0) -> np.ndarray:
            return read_only(np.array([float(row[col[name]]) for row in rows]) * scale)

        seeds = [column(c) for c in _SEED_COLUMNS]
        self.numeric: dict[str, np.ndarray] = {
            "test_acc_seed0": seeds[0],
            "test_acc_heldout": read_only((seeds[1] + seeds[2]) / 2),
            "test_acc": column("test_acc_mean"),
            "test_acc_seed1": seeds[1],
            "test_acc_seed2": seeds[2],
            "test_acc_std": column("test_acc_std"),
            "params_M": column("params", 1e-6),
            "flops_M": column("flops", 1e-6),
        }
        self.ids = np.arange(_N_ARCHS, dtype=np.int64)
        self.load_seconds = time.perf_counter() - start
        logger.info("Loaded %s: %d architectures in %.3f s", file, len(rows), self.load_seconds)


def _load(file: Path) -> _MacroData:
    return load_once(file, _MacroData)


def arch_to_config(arch: str) -> Config:
    """The configuration of an ``arch`` string (8 digits 0-2), e.g. ``"02012100"``."""
    if not isinstance(arch, str) or len(arch) != len(MACRO_LAYERS) or any(c not in "012" for c in arch):
        raise ValueError(f"arch must be {len(MACRO_LAYERS)} digits 0-2 (one per layer), got {arch!r}")
    return {layer: MACRO_OPS[int(d)] for layer, d in zip(MACRO_LAYERS, arch)}


class NasBenchMacroTable(LookupBenchmark):
    """NAS-Bench-Macro (CIFAR-10) as a benchmark; see the module docstring for the protocol.

    Configurations map ``layer/1`` … ``layer/8`` to :data:`MACRO_OPS`.

    Args:
        path: the table file or a directory holding ``nas_bench_macro_cifar10.csv.gz``; see
            :mod:`llmnas.benchmarks.tables` for where it is looked for otherwise.

    Metrics returned by :meth:`query` (accuracies in %): ``test_acc_seed0`` (the search
    signal), ``test_acc_heldout`` (mean of seeds 1 and 2, the reported result),
    ``test_acc`` (3-seed mean, the published figure), ``test_acc_seed1``,
    ``test_acc_seed2``, ``test_acc_std``, ``params_M``, ``flops_M``; identifiers ``arch``
    (8 digits) and ``index`` (``arch`` read as a base-3 number, 0–6560).
    """

    METRICS: tuple[str, ...] = (
        "test_acc_seed0", "test_acc_heldout", "test_acc", "test_acc_seed1", "test_acc_seed2",
        "test_acc_std", "params_M", "flops_M",
    )
    MINIMIZED = ("params", "flops", "test_acc_std")

    search_metric: str = "test_acc_seed0"
    """One training run's accuracy: a noisy score, as a validation run is."""
    report_metric: str = "test_acc_heldout"
    """The mean accuracy of the two runs the search did not see."""

    description: str = (
        "A CIFAR-10 network: a 3x3 convolution stem with 32 channels, then 8 searchable layers "
        "in three stages of 2, 3 and 3 layers; the first layer of each stage halves the "
        "resolution and doubles the channels (64, 128, 256). A 1x1 convolution to 1280 "
        "channels, global average pooling and a linear classifier end the network. An "
        "identity layer makes the network shallower."
    )
    """The space's structure, for prompts (names no benchmark)."""

    def __init__(self, *, path: str | os.PathLike[str] | None = None):
        self.name: str = "macro-cifar10"
        self.file: Path = find_benchmark_file(MACRO_FILE, path)
        self._data = _load(self.file)
        self._numeric = self._data.numeric
        self._ids = self._data.ids
        self._space = SearchSpace(Categorical(layer, MACRO_OPS, MACRO_OP_DESCRIPTIONS) for layer in MACRO_LAYERS)
        self._lookup = choice_lookup(self._space)

    def __repr__(self) -> str:
        return f"NasBenchMacroTable(path={str(self.file)!r})"

    def _init_kwargs(self) -> dict[str, Any]:
        return {"path": str(self.file) if self.file.is_file() else None}

    def _row(self, config: Mapping[str, Any]) -> int:
        code = 0
        for digit in check_config(self._space, self._lookup, config):
            code = code * len(MACRO_OPS) + digit
        return code

    def _config_of_row(self, row: int) -> Config:
        return arch_to_config(self._data.arch[row])

    def _extras_of_row(self, row: int) -> dict[str, Any]:
        return {"arch": self._data.arch[row], "index": int(self._ids[row])}

    def query_arch(self, arch: str) -> dict[str, Any]:
        """Every metric of the architecture with this ``arch`` string (8 digits 0-2)."""
        return self.query(arch_to_config(arch))


__all__ = ["MACRO_FILE", "MACRO_LAYERS", "MACRO_OPS", "MACRO_OP_DESCRIPTIONS", "NasBenchMacroTable", "arch_to_config"]
