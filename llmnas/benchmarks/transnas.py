"""A subset of TransNAS-Bench-101 as benchmarks: two search spaces × seven vision tasks.

The table ``transnas101_subset.csv.gz`` (found like every table, see
:mod:`llmnas.benchmarks.tables`) holds, for about 700 architectures per space and task, the
task's validation score as NASLib stores it (column ``val_accuracy``), parameters and FLOPs.

- ``micro``: a cell of 4 nodes and 6 edges (the order 0→1, 0→2, 1→2, 0→3, 1→3, 2→3), each
  edge one of ``none`` (0), ``skip_connect`` (1), ``conv_1x1`` (2), ``conv_3x3`` (3), repeated
  in a fixed skeleton. 4,096 cells exist; the table holds the same 711 for every task.
- ``macro``: a sequence of 4 to 6 modules of two ResNet basic blocks, each module keeping the
  shape (1), doubling the channels (2), halving the resolution (3) or both (4), with 1–4
  halvings and 1–3 doublings. 3,256 networks exist; the table holds 725 (662 for
  ``class_scene`` and ``class_object``).

**The space is the subset.** A categorical space over the edges (or modules) would contain
4,096 (micro) or 5^2·4^4 = 6,400 (macro) configurations of which only 17 % (micro) or 11 %
(macro) are in the table: random proposals would miss five times in six, and a method that
reasons about ops cannot know which cells exist. So the default ``encoding="arch"`` exposes
the present architectures as one categorical dimension ``arch`` whose choices are their codes
(``"1_00_210"``, ``"1242"``) and whose meaning the ``description`` explains: every
configuration of :meth:`~TransNas101Table.space` is in the table. ``encoding="cells"`` gives
the structured space instead (6 dimensions); then a configuration the table lacks raises
:class:`~llmnas.benchmarks._lookup.AbsentArchitectureError` (a ``KeyError``) in
:meth:`~TransNas101Table.query`, and :meth:`~TransNas101Table.problems` /
:meth:`~TransNas101Table.contains` tell it beforehand, to be added to the host's rules.

Protocol: there is no test split in this data, so ``search_metric`` and ``report_metric``
are both ``val_accuracy`` (the reported score is the one searched on: optimistic compared
to a held-out score, equally so for every method). Higher is better for every task
(``room_layout`` stores a negative loss).

Example:
    >>> bench = TransNas101Table("micro", "class_scene")
    >>> len(bench), bench.space().size(), bench.search_metric == bench.report_metric
    (711, 711.0, True)
    >>> best = bench.optimum()
    >>> round(best.value, 4), best.config
    (54.797, {'arch': '3_12_212'})
    >>> bench.query({"arch": "3_12_212"})["tnb_arch_str"]
    '64-41414-3_12_212'
    >>> cells = TransNas101Table("micro", "class_scene", encoding="cells")
    >>> cells.space().size(), cells.contains(cells.optimum().config)
    (4096.0, True)
    >>> cells.problems({edge: "none" for edge in MICRO_EDGES})  # doctest: +ELLIPSIS
    ["micro cell '0_00_000' is not in this subset of the benchmark (it measured 711 of the 4096 cells)..."]
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..space import Categorical, Config, SearchSpace
from ._lookup import AbsentArchitectureError, LookupBenchmark, check_config, choice_lookup, read_only
from .tables import NB201_EDGES, NB201_OP_DESCRIPTIONS, NB201_OPS, find_benchmark_file, load_once, read_table

logger = logging.getLogger(__name__)

TRANSNAS_FILE = "transnas101_subset.csv.gz"
TRANSNAS_SPACES: tuple[str, ...] = ("micro", "macro")
TRANSNAS_TASKS: tuple[str, ...] = (
    "class_scene", "class_object", "room_layout", "jigsaw", "autoencoder", "normal", "segmentsemantic",
)
TRANSNAS_ENCODINGS: tuple[str, ...] = ("arch", "cells")

TRANSNAS_TASK_DESCRIPTIONS: dict[str, str] = {
    "class_scene": "scene classification of indoor images; score: top-1 validation accuracy (%)",
    "class_object": "object classification of indoor images; score: top-1 validation accuracy (%)",
    "room_layout": "room layout regression from indoor images; score: minus the validation L2 loss "
                   "(negative, higher is better)",
    "jigsaw": "jigsaw puzzle solving (recognising the permutation of image tiles); score: top-1 "
              "validation accuracy (%)",
    "autoencoder": "image reconstruction by an encoder-decoder; score: validation SSIM (0-1)",
    "normal": "surface normal estimation per pixel; score: validation SSIM (0-1)",
    "segmentsemantic": "semantic segmentation of indoor images; score: validation pixel accuracy (%)",
}
"""Each task and the meaning of its ``val_accuracy`` (as NASLib stores it), for prompts."""

MICRO_EDGES: tuple[str, ...] = NB201_EDGES
"""The micro cell's edges in code order: NAS-Bench-201's cell (``cell/i_j`` feeds node ``i``'s
output to node ``j``)."""

MICRO_OPS: tuple[str, ...] = NB201_OPS[:4]
"""Micro edge ops: NAS-Bench-201's without the pooling; the position is the code digit."""

MICRO_OP_DESCRIPTIONS: tuple[str, ...] = (
    NB201_OP_DESCRIPTIONS[0],
    "identity (a strided 1x1 reduction where the cell halves the resolution)",
    *NB201_OP_DESCRIPTIONS[2:4],
)

MACRO_MODULES: tuple[str, ...] = tuple(f"module/{i}" for i in range(1, 7))
"""The macro network's module slots, input to output (``module/5`` and ``module/6`` may be
``none``: a network of 4 or 5 modules)."""

MACRO_MODULE_TYPES: tuple[str, ...] = ("none", "keep", "double_channels", "halve_resolution", "double_both")
"""Macro module types; the position is the code digit (0: no module)."""

MACRO_MODULE_DESCRIPTIONS: tuple[str, ...] = (
    "no module: the network ends before this slot",
    "two ResNet basic blocks keeping channels and resolution",
    "two ResNet basic blocks, the first doubling the channels",
    "two ResNet basic blocks, the first halving the resolution (stride 2)",
    "two ResNet basic blocks, the first doubling the channels and halving the resolution",
)

_MICRO_DESCRIPTION = (
    "A cell of 4 nodes; node 0 is the cell input, node 3 its output; each edge i->j applies an "
    "op to node i's output and feeds node j, and a node sums its incoming edges. Ops: none "
    "(the edge is cut), skip_connect (identity), conv_1x1 and conv_3x3 (ReLU, convolution, "
    "batch norm). The network: a stem of two stride-2 convolutions (64 channels), then 5 "
    "modules of 2 cells each (modules 1, 3 and 5 halve the resolution and double the "
    "channels), then a head for the task."
)
_MICRO_ARCH_CODE = (
    " An architecture is written 'a_bc_def', one digit per edge (0 none, 1 skip_connect, "
    "2 conv_1x1, 3 conv_3x3): node1 = a(node0); node2 = b(node0) + c(node1); node3 = "
    "d(node0) + e(node1) + f(node2). Only the listed architectures are available."
)
_MACRO_DESCRIPTION = (
    "A ResNet-like network: a stem of two stride-2 convolutions (64 channels), then 4 to 6 "
    "modules in sequence, each of two ResNet basic blocks, then a head for the task. A module "
    "keeps the channels and resolution, doubles the channels, halves the resolution (stride "
    "2), or does both; the network halves the resolution 1 to 4 times and doubles the "
    "channels 1 to 3 times."
)
_MACRO_ARCH_CODE = (
    " An architecture is written as its modules in order, one digit each: 1 keep, 2 double "
    "the channels, 3 halve the resolution, 4 both (e.g. '1242' has four modules). Only the "
    "listed architectures are available."
)


# --------------------------------------------------------------------------------------------
# Codes: the digits of NASLib's op tuple; "arch" strings as TransNAS-Bench writes them
# --------------------------------------------------------------------------------------------
def _arch_of_digits(space: str, digits: str) -> str:
    """``"100210"`` → ``"1_00_210"`` (micro); ``"124200"`` → ``"1242"`` (macro)."""
    if space == "micro":
        return f"{digits[0]}_{digits[1:3]}_{digits[3:]}"
    return digits.rstrip("0")


def _digits_of_arch(space: str, arch: str) -> str | None:
    """The six code digits of an ``arch`` string, or ``None`` when it is malformed."""
    if not isinstance(arch, str):
        return None
    if space == "micro":
        parts = arch.split("_")
        if [len(p) for p in parts] != [1, 2, 3] or any(c not in "0123" for c in "".join(parts)):
            return None
        return "".join(parts)
    if not 4 <= len(arch) <= 6 or any(c not in "1234" for c in arch):
        return None
    return arch.ljust(6, "0")


def macro_rule_problems(digits: str) -> list[str]:
    """Why six macro code digits are not a network of the macro space (empty: they are)."""
    modules = digits.rstrip("0")
    problems = []
    if "0" in modules:
        problems.append("a 'none' module is followed by a module (only the last slots may be none)")
    if len(modules) < 4:
        problems.append(f"{len(modules)} modules; a network has 4 to 6")
    halvings = sum(c in "34" for c in modules)
    doublings = sum(c in "24" for c in modules)
    if not 1 <= halvings <= 4:
        problems.append(f"the resolution is halved {halvings} times; it must be 1 to 4")
    if not 1 <= doublings <= 3:
        problems.append(f"the channels are doubled {doublings} times; they must be 1 to 3")
    return problems


# --------------------------------------------------------------------------------------------
# Loading (once per process and file)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TaskData:
    digits: tuple[str, ...]          # six code digits per row, rows sorted by code
    row_of_digits: dict[str, int]
    numeric: dict[str, np.ndarray]
    ids: np.ndarray


def _parse(file: Path) -> dict[tuple[str, str], _TaskData]:
    start = time.perf_counter()
    required = ["space", "task", "naslib_arch", "tnb_arch_str", "val_accuracy", "params_M", "flops_M"]
    header, rows = read_table(file, required, "TransNAS-Bench-101")
    col = {name: header.index(name) for name in required}
    grouped: dict[tuple[str, str], list[tuple[str, list[str]]]] = {}
    for row in rows:
        space, task = row[col["space"]], row[col["task"]]
        digits = "".join(c for c in row[col["naslib_arch"]] if c.isdigit())
        expected = ("64-41414-" + _arch_of_digits("micro", digits)) if space == "micro" else \
            f"64-{_arch_of_digits('macro', digits)}-basic"
        if space not in TRANSNAS_SPACES or task not in TRANSNAS_TASKS or len(digits) != 6 \
                or row[col["tnb_arch_str"]] != expected:
            raise ValueError(f"{file}: unexpected row {row!r}")
        grouped.setdefault((space, task), []).append((digits, row))
    out: dict[tuple[str, str], _TaskData] = {}
    for key, items in grouped.items():
        items.sort(key=lambda item: item[0])
        digits = tuple(d for d, _ in items)
        if len(set(digits)) != len(digits):
            raise ValueError(f"{file}: {key} lists an architecture twice")
        numeric = {name: read_only([float(r[col[name]]) for _, r in items])
                   for name in ("val_accuracy", "params_M", "flops_M")}
        out[key] = _TaskData(digits, {d: i for i, d in enumerate(digits)}, numeric,
                             np.array([int(d) for d in digits], dtype=np.int64))
    logger.info("Loaded %s: %d rows in %.3f s", file, len(rows), time.perf_counter() - start)
    return out


def _load(file: Path) -> dict[tuple[str, str], _TaskData]:
    return load_once(file, _parse)


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------
class TransNas101Table(LookupBenchmark):
    """One space and task of the TransNAS-Bench-101 subset; see the module docstring.

    Args:
        space: ``"micro"`` (cells) or ``"macro"`` (module sequences).
        task: one of :data:`TRANSNAS_TASKS`.
        encoding: ``"arch"`` (default): one dimension ``arch`` whose choices are exactly the
            architectures in the table; ``"cells"``: the structured space (``cell/0_1`` …
            over :data:`MICRO_OPS`, or ``module/1`` … over :data:`MACRO_MODULE_TYPES`), of
            which the table holds a fraction (see :meth:`problems`).
        path: the table file or a directory holding ``transnas101_subset.csv.gz``.

    Metrics returned by :meth:`query`: ``val_accuracy`` (the task's score, see
    :data:`TRANSNAS_TASK_DESCRIPTIONS`), ``params_M``, ``flops_M``; identifiers ``arch``
    (the code, e.g. ``"1_00_210"`` or ``"1242"``), ``tnb_arch_str`` (TransNAS-Bench-101's
    string) and ``index`` (the six code digits read as a decimal number).
    """

    METRICS: tuple[str, ...] = ("val_accuracy", "params_M", "flops_M")
    search_metric: str = "val_accuracy"
    report_metric: str = "val_accuracy"
    """The same as ``search_metric``: the data has no test split."""

    def __init__(self, space: str = "micro", task: str = "class_scene", *, encoding: str = "arch",
                 path: str | os.PathLike[str] | None = None):
        space_key = space.strip().lower() if isinstance(space, str) else space
        task_key = task.strip().lower() if isinstance(task, str) else task
        if space_key not in TRANSNAS_SPACES:
            raise ValueError(f"unknown TransNAS-Bench-101 space {space!r}; expected one of {list(TRANSNAS_SPACES)}")
        if task_key not in TRANSNAS_TASKS:
            raise ValueError(f"unknown TransNAS-Bench-101 task {task!r}; expected one of {list(TRANSNAS_TASKS)}")
        if encoding not in TRANSNAS_ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; expected one of {list(TRANSNAS_ENCODINGS)}")
        self.space_name: str = str(space_key)
        self.task: str = str(task_key)
        self.encoding: str = encoding
        self.name: str = f"transnas-{space_key}-{task_key}" + ("-cells" if encoding == "cells" else "")
        self.file: Path = find_benchmark_file(TRANSNAS_FILE, path)
        data = _load(self.file).get((self.space_name, self.task))
        if data is None:
            raise ValueError(f"{self.file}: no rows for space {space_key!r} and task {task_key!r}")
        self._data = data
        self._numeric = data.numeric
        self._ids = data.ids
        self.task_description: str = TRANSNAS_TASK_DESCRIPTIONS[self.task]
        """The task and its score in words (for a method's ``task`` text)."""
        micro = self.space_name == "micro"
        if encoding == "arch":
            codes = [_arch_of_digits(self.space_name, d) for d in data.digits]
            self._space = SearchSpace([Categorical("arch", codes)])
            self.description = _MICRO_DESCRIPTION + _MICRO_ARCH_CODE if micro else _MACRO_DESCRIPTION + _MACRO_ARCH_CODE
        elif micro:
            self._space = SearchSpace(Categorical(e, MICRO_OPS, MICRO_OP_DESCRIPTIONS) for e in MICRO_EDGES)
            self.description = _MICRO_DESCRIPTION
        else:
            self._space = SearchSpace(
                Categorical(m, MACRO_MODULE_TYPES[i < 4:], MACRO_MODULE_DESCRIPTIONS[i < 4:])
                for i, m in enumerate(MACRO_MODULES)
            )
            self.description = _MACRO_DESCRIPTION
        self._lookup = choice_lookup(self._space)

    def __repr__(self) -> str:
        return (f"TransNas101Table({self.space_name!r}, {self.task!r}, encoding={self.encoding!r}, "
                f"path={str(self.file)!r})")

    def _init_kwargs(self) -> dict[str, Any]:
        return {"space": self.space_name, "task": self.task, "encoding": self.encoding,
                "path": str(self.file) if self.file.is_file() else None}

    @property
    def n_possible(self) -> int:
        """How many architectures the full space has (4,096 micro, 3,256 macro)."""
        return 4096 if self.space_name == "micro" else 3256

    # -- configurations ↔ codes ----------------------------------------------------------------
    def _digits(self, config: Mapping[str, Any]) -> str:
        if self.encoding == "arch" and isinstance(config, Mapping) and list(config) == ["arch"] \
                and config["arch"] not in self._lookup["arch"]:
            # A code outside the choices: say whether it is malformed or only absent (the
            # space's own message would list every choice).
            value = config["arch"]
            digits = _digits_of_arch(self.space_name, value) if isinstance(value, str) else None
            if digits is None:
                raise ValueError(f"arch: {value!r} is not a {self.space_name} architecture code; expected a "
                                 f"string {self._code_form()}, one of bench.configs()")
            return digits
        indices = check_config(self._space, self._lookup, config)
        if self.encoding == "arch":
            return self._data.digits[indices[0]]  # the choices are the rows, in order
        if self.space_name == "micro":
            return "".join(str(i) for i in indices)
        return "".join(str(i + (n < 4)) for n, i in enumerate(indices))  # modules 1-4 lack "none"

    def _row(self, config: Mapping[str, Any]) -> int:
        digits = self._digits(config)
        row = self._data.row_of_digits.get(digits)
        if row is None:
            arch = _arch_of_digits(self.space_name, digits)
            kind = "cell" if self.space_name == "micro" else "network"
            broken = macro_rule_problems(digits) if self.space_name == "macro" else []
            if broken:
                raise AbsentArchitectureError(
                    f"macro {kind} {digits!r} is not a network of the space: {'; '.join(broken)}")
            raise AbsentArchitectureError(
                f"{self.space_name} {kind} {arch!r} is not in this subset of the benchmark (it measured "
                f"{len(self)} of the {self.n_possible} {kind}s); query only those of bench.configs()")
        return row

    def _code_form(self) -> str:
        return "'a_bc_def' with digits 0-3" if self.space_name == "micro" else "4 to 6 digits 1-4"

    def config_of_arch(self, arch: str) -> Config:
        """The configuration (in this benchmark's encoding) of an ``arch`` code, present or not
        (``ValueError`` when the code is malformed)."""
        digits = _digits_of_arch(self.space_name, arch)
        if digits is None:
            raise ValueError(f"not a {self.space_name} arch code: {arch!r}; expected {self._code_form()}")
        if self.encoding == "arch":
            return {"arch": _arch_of_digits(self.space_name, digits)}
        if self.space_name == "micro":
            return {e: MICRO_OPS[int(d)] for e, d in zip(MICRO_EDGES, digits)}
        return {m: MACRO_MODULE_TYPES[int(d)] for m, d in zip(MACRO_MODULES, digits)}

    def _config_of_row(self, row: int) -> Config:
        return self.config_of_arch(_arch_of_digits(self.space_name, self._data.digits[row]))

    def _extras_of_row(self, row: int) -> dict[str, Any]:
        arch = _arch_of_digits(self.space_name, self._data.digits[row])
        tnb = f"64-41414-{arch}" if self.space_name == "micro" else f"64-{arch}-basic"
        return {"arch": arch, "tnb_arch_str": tnb, "index": int(self._ids[row])}

    def query_arch(self, arch: str) -> dict[str, Any]:
        """Every metric of the architecture with this code (``"1_00_210"``, ``"1242"``)."""
        return self.query(self.config_of_arch(arch))

    @property
    def source_description(self) -> str:
        """These architectures as a transfer source, in words for prompts (no benchmark name)."""
        return f"the best architectures of the same search space trained on another task ({self.task_description})"


def transnas_names() -> list[str]:
    """The registry names, ``transnas-<space>-<task>``."""
    return [f"transnas-{s}-{t}" for s in TRANSNAS_SPACES for t in TRANSNAS_TASKS]


__all__ = [
    "MACRO_MODULES", "MACRO_MODULE_DESCRIPTIONS", "MACRO_MODULE_TYPES", "MICRO_EDGES", "MICRO_OPS",
    "MICRO_OP_DESCRIPTIONS", "TRANSNAS_ENCODINGS", "TRANSNAS_FILE", "TRANSNAS_SPACES",
    "TRANSNAS_TASKS", "TRANSNAS_TASK_DESCRIPTIONS", "TransNas101Table", "macro_rule_problems",
    "transnas_names",
]
