"""A run's record: the table's facts, the best-so-far curves, and the ``runs.jsonl`` file.

Everything the report needs to read a comparison back (no host, no LLM): a record is one JSON
line, keyed by :func:`run_key`; its curves are stored as their steps (:func:`encode_curve`).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..benchmarks.registry import TabularBenchmark
from ..space import Config
from .contenders import NO_LLM

__all__ = [
    "CACHE_DIR", "CURVE_KEYS", "RECORD_VERSION", "RUNS_FILE", "TOP_FRACTION", "TableFacts", "append_run", "curves",
    "decode_curve", "encode_curve", "options_of", "read_runs", "run_key", "table_facts",
]

logger = logging.getLogger(__name__)

RUNS_FILE = "runs.jsonl"
"""The results file in the output folder: one JSON object per finished run."""
CACHE_DIR = "llm-cache"
"""The LLM response cache in the output folder (unless another is given)."""
RECORD_VERSION = 3
"""The version a run records. 3: the record holds ``options``, our contenders' options other
than the defaults (e.g. ``{"trust": False}``); 2: recorded with the trust rule on and prompts
listing the best 8 and the latest 8 (``prompt_history="lists"``); 1: with the rule off too."""
_OPTIONS_BEFORE: dict[int, dict[str, Any]] = {
    1: {"trust": False, "prompt_history": "lists"},
    2: {"prompt_history": "lists"},
}


def options_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The options our contender ran with in ``record`` (those that differ from the defaults):
    what a replay must pass again to repeat it."""
    if "options" in record:
        return dict(record["options"] or {})
    return dict(_OPTIONS_BEFORE.get(int(record.get("version", 1)), _OPTIONS_BEFORE[1]))

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

TOP_FRACTION = 0.001
""""Top 0.1 %": the best ``ceil(0.001 × table size)`` configurations by ``search_metric``."""


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
        >>> from llmnas.benchmarks import load_benchmark
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
