"""A quality-controlled fake LLM for a tabular benchmark: answers whose quality is a knob.

:class:`QualityLLM` is a backend of the library (a :class:`~llmnas.llm.base.BaseLLM`: usage,
cache and trace work as for any other) that never contacts anything. It reads the JSON schema
of each request and answers every prompt the four methods send:

* **architectures** (SEKI's generation and inspiration, CoLLM-NAS's Generator, any
  ``{"architectures": [...]}`` schema): drawn from the quality's pool of the table, without
  replacement within a run (and skipping what the prompt lists as tried);
* **partial architectures** (GPT-EA's reconstruction, ``{"offspring_1": {...}, ...}``): the
  fixed dimensions are read from the prompt and the erased ones completed "the same way": a
  random table entry of the quality's pool consistent with the fixed part, else (no such
  entry) the best-ranked consistent entry (``expert``), the worst (``misleading``) or the
  median one (``middle``); ``uninformed``: a random consistent entry. Completions not given
  before in the run nor listed in the prompt come first;
* **whitelists** (LAPT's principles, ``{"whitelist": {...}}``): per dimension the options most
  used by the pool (``uninformed``: random subsets), numeric dimensions the pool's range;
* **free text** (SEKI's strategies, CoLLM-NAS's Navigator, LAPT's principles and reasoning):
  a short sentence.

Qualities (:data:`QUALITIES`), by the table's ranking on ``search_metric``: ``expert`` = the
top 1 %, ``middle`` = ranks 45-55 %, ``misleading`` = the bottom 10 %, ``uninformed`` =
uniform over the table (every entry is a valid architecture).

Memory: by default an answer is never one the run gave before. A ``-stateless`` quality
(``expert-stateless`` …) remembers nothing between calls, as a real endpoint: it skips only
what the prompt lists as tried, so it repeats what the prompt leaves out (the report's
"repeats / 100 evals" counts those answers).

Determinism: the answers depend on the seed, the requests in order, and nothing else.
:meth:`QualityLLM.start_run` starts a new run (a new seed, a fresh without-replacement
memory); the comparison's quality sweep calls it before every run.

Example:
    >>> from llmnas.benchmarks import load_benchmark
    >>> bench = load_benchmark("nb201-cifar10")
    >>> llm = QualityLLM(bench, "expert", seed=0)
    >>> schema = bench.space().proposals_schema(3)
    >>> answer = llm.complete([{"role": "user", "content": "Propose 3."}], schema=schema).data
    >>> ranks = [llm.pools.rank_of(c) for c in answer["architectures"]]
    >>> len(ranks), all(r <= llm.pools.count("expert") for r in ranks)
    (3, True)
"""

from __future__ import annotations

import json
import math
import re
import threading
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np

from ...llm.base import BaseLLM, ChatRequest, RawAnswer
from ...llm.protocol import Usage
from ...space import SearchSpace, _encode_choice

if TYPE_CHECKING:
    from ...benchmarks.registry import TabularBenchmark

__all__ = ["BASE_QUALITIES", "POOL_BOUNDS", "QUALITIES", "STATELESS", "QualityLLM", "TablePools", "table_pools"]

BASE_QUALITIES: tuple[str, ...] = ("expert", "middle", "misleading", "uninformed")
"""The answer qualities by pool (:data:`POOL_BOUNDS`)."""
STATELESS = "-stateless"
"""The suffix of a quality whose answers remember nothing between calls: like a real LLM
endpoint, it avoids only what the prompt lists as tried (``expert-stateless``)."""
QUALITIES: tuple[str, ...] = BASE_QUALITIES + tuple(q + STATELESS for q in BASE_QUALITIES)
"""The answer qualities of :class:`QualityLLM`."""

POOL_BOUNDS: dict[str, tuple[float, float]] = {
    "expert": (0.0, 0.01), "middle": (0.45, 0.55), "misleading": (0.90, 1.0), "uninformed": (0.0, 1.0),
}
"""Each quality's pool as a fraction range of the table ranked best first by ``search_metric``."""

TEXT = "Keep what the best architectures share; vary the other dimensions."
"""The free text every quality writes (strategies, plans, principles, reasoning)."""

_OFFSPRING_LINE = re.compile(r"^(offspring_\d+): (\{.*\})\s+\(fill: [^)]*\)\s*$", re.MULTILINE)
_MASK = "?"


def _canonical(value: Any) -> str:
    return json.dumps(_encode_choice(value), sort_keys=True, separators=(",", ":"))


class TablePools:
    """A benchmark's table ranked by its search metric: the rows' configurations, their
    per-dimension codes (for completing partial architectures) and each quality's pool.

    Ranks are 1-based, best first (ties in table order); rows whose metric is not finite are
    left out.
    """

    def __init__(self, bench: TabularBenchmark) -> None:
        self.bench = bench
        self.space: SearchSpace = bench.space()
        values = np.asarray(bench.values(bench.search_metric), dtype=float)
        finite = np.flatnonzero(np.isfinite(values))
        sign = -1.0 if bench.direction(bench.search_metric) == "maximize" else 1.0
        order = finite[np.argsort(sign * values[finite], kind="stable")]
        configs = bench.configs() if hasattr(bench, "configs") else [
            bench._config_of_row(r) for r in range(len(values))]  # type: ignore[attr-defined]
        self.configs: list[dict[str, Any]] = [dict(configs[int(r)]) for r in order]  # best first
        self.values = values[order]
        self.encoded: list[dict[str, Any]] = [self.space.encode(c) for c in self.configs]
        self._formatted: list[str] | None = None
        self._rank_of_key = {self._key(c): i + 1 for i, c in enumerate(self.encoded)}
        names = self.space.names
        self.codes = np.zeros((len(self.configs), len(names)), dtype=np.int32)
        self.code_of: list[dict[str, int]] = []
        for j, name in enumerate(names):
            table: dict[str, int] = {}
            for i, enc in enumerate(self.encoded):
                self.codes[i, j] = table.setdefault(_canonical(enc[name]), len(table))
            self.code_of.append(table)

    def _key(self, encoded: Mapping[str, Any]) -> str:
        return json.dumps({n: encoded.get(n) for n in self.space.names}, sort_keys=True, default=str)

    def __len__(self) -> int:
        return len(self.configs)

    @property
    def formatted(self) -> list[str]:
        """Each row as the prompts show it (``space.format_config``), to spot it in a prompt."""
        if self._formatted is None:
            self._formatted = [self.space.format_config(c) for c in self.configs]
        return self._formatted

    def bounds(self, quality: str) -> tuple[int, int]:
        """The 0-based row range ``[start, stop)`` of a quality's pool."""
        low, high = POOL_BOUNDS[quality]
        n = len(self.configs)
        start, stop = int(math.floor(low * n)), max(int(math.ceil(high * n)), int(math.floor(low * n)) + 1)
        return start, min(stop, n)

    def count(self, quality: str) -> int:
        """The size of a quality's pool; its rows have ranks ``start + 1 … start + count``."""
        start, stop = self.bounds(quality)
        return stop - start

    def rank_of(self, config: Mapping[str, Any]) -> int | None:
        """The 1-based rank of a configuration (host-typed or as JSON), ``None`` if not in the table."""
        decoded, errors = self.space.decode(config)
        if errors:
            return None
        return self._rank_of_key.get(self._key(self.space.encode(decoded)))

    def matching(self, fixed: Mapping[str, Any]) -> np.ndarray:
        """The rows (best first) whose dimensions equal ``fixed`` (JSON values)."""
        mask = np.ones(len(self.configs), dtype=bool)
        for j, name in enumerate(self.space.names):
            if name in fixed:
                code = self.code_of[j].get(_canonical(fixed[name]))
                if code is None:
                    return np.zeros(0, dtype=np.int64)
                mask &= self.codes[:, j] == code
        return np.flatnonzero(mask)


_POOLS: dict[tuple[str, int], TablePools] = {}
_POOLS_LOCK = threading.Lock()


def table_pools(bench: TabularBenchmark) -> TablePools:
    """The (cached) :class:`TablePools` of a benchmark object."""
    key = (str(getattr(bench, "name", "")), id(bench))
    with _POOLS_LOCK:
        pools = _POOLS.get(key)
        if pools is None or pools.bench is not bench:
            pools = _POOLS[key] = TablePools(bench)
        return pools


@dataclass
class _RunState:
    """What one run's answers remember: the rows already given and the order to draw in."""

    rng: np.random.Generator
    given: set[int]
    order: list[int]
    cursor: int = 0


class QualityLLM(BaseLLM):
    """A fake LLM answering from a benchmark's table at a given quality (module docstring).

    Args:
        bench: the tabular benchmark the methods search (its space must be theirs).
        quality: one of :data:`QUALITIES`.
        seed: the seed of the first run (see :meth:`start_run`).
        options: the keywords of :class:`~llmnas.llm.base.BaseLLM` (cache, trace …).
    """

    seconds_per_call: ClassVar[float] = 0.003
    """What a call costs, for the comparison's duration estimate."""
    _TRANSIENT: ClassVar[tuple[str, ...]] = ("_lock",)

    def __init__(self, bench: TabularBenchmark, quality: str, *, seed: int = 0, **options: Any) -> None:
        if quality not in QUALITIES:
            raise ValueError(f"quality must be one of {QUALITIES}, got {quality!r}")
        super().__init__(model=f"quality-{quality}", **options)
        self.bench = bench
        self.name = quality
        self.quality = quality.removesuffix(STATELESS)
        self.remembers = not quality.endswith(STATELESS)
        self.pools = table_pools(bench)
        self.start_run(seed)

    @property
    def description(self) -> str:
        return f"quality:{self.name}"

    def _init_transient(self) -> None:
        super()._init_transient()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ runs

    def start_run(self, seed: int, run: str = "") -> None:
        """Start a new run: answers from now on depend on ``seed``, ``run`` (a name, e.g. the
        contender's, so that two methods on one seed do not get the same draws) and this run's
        requests only."""
        salt = zlib.crc32(f"{self.bench.name}:{self.quality}".encode())
        rng = np.random.default_rng([int(seed), salt, zlib.crc32(str(run).encode())])
        start, stop = self.pools.bounds(self.quality)
        order = [int(r) for r in start + rng.permutation(stop - start)]
        self._run = _RunState(rng, set(), order)

    # ------------------------------------------------------------------ the backend

    def _exchange(self, request: ChatRequest) -> RawAnswer:
        with self._lock:
            value = self.answer(request.messages, request.schema)
        text = json.dumps(value)
        prompt = sum(len(str(m.get("content", ""))) for m in request.messages)
        return RawAnswer(text=text, usage=Usage(prompt // 4 + 1, len(text) // 4 + 1), model=self.model,
                         mode="json_schema" if request.schema is not None else "text")

    def answer(self, messages: Sequence[Mapping[str, Any]], schema: Mapping[str, Any] | None) -> Any:
        """The JSON answer to ``messages`` under ``schema`` (what :meth:`complete` returns as data)."""
        text = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") != "assistant")
        if not isinstance(schema, Mapping):
            return {"answer": TEXT}
        props = schema.get("properties") or {}
        out: dict[str, Any] = {}
        offspring = [k for k in props if re.fullmatch(r"offspring_\d+", str(k))]
        fixed = self._partials(text) if offspring else {}
        for name, node in props.items():
            if name == "architectures" and isinstance(node, Mapping):
                n = int(node.get("maxItems") or node.get("minItems") or 1)
                out[name] = [self.pools.encoded[r] for r in self._draw(n, text)]
            elif name in offspring and isinstance(node, Mapping):
                masked = list(node.get("required") or node.get("properties") or [])
                out[name] = self._complete(fixed.get(name, {}), masked, text)
            elif name == "whitelist" and isinstance(node, Mapping):
                out[name] = self._whitelist(node)
            else:
                out[name] = self._generic(node)
        return out

    # ------------------------------------------------------------------ architectures

    def _listed(self, row: int, text: str) -> bool:
        return self.pools.formatted[row] in text

    def _draw(self, n: int, text: str) -> list[int]:
        """``n`` rows of the pool, without replacement in the run (stateless: in the answer),
        none listed in ``text``."""
        if not self.remembers:
            self._run.given.clear()
            self._run.rng.shuffle(self._run.order)
            self._run.cursor = 0
        run, rows = self._run, []
        recycled = False
        while len(rows) < n:
            if run.cursor >= len(run.order):
                if recycled:  # the pool is smaller than asked: repeats are unavoidable
                    run.cursor = 0
                    rows.append(run.order[int(run.rng.integers(len(run.order)))])
                    continue
                recycled = True  # every row given once: a new round, in a new order
                run.given.difference_update(run.order)
                run.order = [int(r) for r in run.rng.permutation(run.order)]
                run.cursor = 0
            row = run.order[run.cursor]
            run.cursor += 1
            if row in run.given or row in rows or self._listed(row, text):
                continue
            rows.append(row)
        run.given.update(rows)
        return rows

    def _partials(self, text: str) -> dict[str, dict[str, Any]]:
        """The fixed dimensions of each offspring of a GPT-EA reconstruction prompt."""
        found: dict[str, dict[str, Any]] = {}
        for match in _OFFSPRING_LINE.finditer(text):
            try:
                shown = json.loads(match.group(2))
            except ValueError:
                continue
            if isinstance(shown, dict):
                found[match.group(1)] = {k: v for k, v in shown.items() if v != _MASK}
        return found

    def _complete(self, fixed: Mapping[str, Any], masked: Sequence[str], text: str) -> dict[str, Any]:
        """The erased dimensions ``masked`` of an offspring whose other dimensions are ``fixed``."""
        fixed = {k: v for k, v in fixed.items() if k not in masked}
        rows = self.pools.matching(fixed)
        if not len(rows):  # the fixed part is in no table entry: complete from the pool instead
            rows = self.pools.matching({})
        def fresh(row: int) -> bool:
            return (row not in self._run.given or not self.remembers) and not self._listed(row, text)

        start, stop = self.pools.bounds(self.quality)
        pooled = [int(r) for r in rows if start <= r < stop and fresh(int(r))] if self.quality != "uninformed" else []
        if pooled:  # a fresh completion from the quality's own pool (rows are ranks - 1), at random
            row = pooled[int(self._run.rng.integers(len(pooled)))]
        elif self.quality in ("expert", "misleading"):  # the best (worst) fresh completion, else the best (worst)
            ordered = rows if self.quality == "expert" else rows[::-1]
            row = next((int(r) for r in ordered if fresh(int(r))), int(ordered[0]))
        else:
            candidates = [int(r) for r in rows if fresh(int(r))] or [int(r) for r in rows]
            row = candidates[len(candidates) // 2] if self.quality == "middle" \
                else candidates[int(self._run.rng.integers(len(candidates)))]
        self._run.given.add(row)
        encoded = self.pools.encoded[row]
        return {name: encoded[name] for name in masked if name in encoded}

    # ------------------------------------------------------------------ whitelists and text

    def _whitelist(self, node: Mapping[str, Any]) -> dict[str, Any]:
        start, stop = self.pools.bounds(self.quality)
        pool = self.pools.encoded[start:stop]
        out: dict[str, Any] = {}
        for name, sub in (node.get("properties") or {}).items():
            if not isinstance(sub, Mapping):
                continue
            if sub.get("type") == "array":
                choices = list((sub.get("items") or {}).get("enum") or [])
                most = max(1, int(sub.get("maxItems") or len(choices) or 1))
                if self.quality == "uninformed" or not choices:
                    size = 1 + int(self._run.rng.integers(min(most, len(choices)) or 1))
                    picked = [choices[int(i)] for i in self._run.rng.choice(len(choices), size, replace=False)] \
                        if choices else []
                else:
                    counts = {_canonical(c): 0 for c in choices}
                    for enc in pool:
                        key = _canonical(enc.get(name))
                        if key in counts:
                            counts[key] += 1
                    ranked = sorted(range(len(choices)), key=lambda i: -counts[_canonical(choices[i])])
                    picked = [choices[i] for i in ranked[:most] if counts[_canonical(choices[i])] > 0] \
                        or [choices[ranked[0]]]
                out[name] = picked
            else:
                bound = ((sub.get("properties") or {}).get("low") or {})
                low, high = bound.get("minimum"), bound.get("maximum")
                if self.quality == "uninformed" or not pool or name not in pool[0]:
                    a, b = sorted(float(self._run.rng.uniform(low, high)) for _ in range(2)) \
                        if low is not None and high is not None else (low, high)
                else:
                    seen = [float(enc[name]) for enc in pool]
                    a, b = min(seen), max(seen)
                integer = bound.get("type") == "integer"
                out[name] = {"low": int(round(a)) if integer else a, "high": int(round(b)) if integer else b}
        return out

    def _generic(self, node: Any) -> Any:
        """A short valid value of a schema node that carries no architecture (text mostly)."""
        if not isinstance(node, Mapping):
            return TEXT
        if "enum" in node and node["enum"]:
            return node["enum"][0]
        kind = node.get("type")
        if kind == "object":
            props = node.get("properties") or {}
            return {k: self._generic(v) for k, v in props.items()}
        if kind == "array":
            return [self._generic(node.get("items"))] * int(node.get("minItems") or 0)
        if kind in ("integer", "number"):
            return node.get("minimum", 0)
        if kind == "boolean":
            return True
        limit = int(node.get("maxLength") or len(TEXT))
        return TEXT[:limit]

