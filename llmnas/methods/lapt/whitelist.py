"""LAPT's whitelists: the refined search space as a per-dimension list of allowed values.

A whitelist maps a categorical dimension to a list of its (JSON) values and a numeric one to
``{"low", "high"}``; multi-choice dimensions are never restricted. These functions make an
LLM's whitelist valid (:func:`normalize_whitelist`), turn it into a space
(:func:`refined_space`) and test configurations against it (:func:`inside`, :class:`Whitelist`).
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any, Container, Mapping

import numpy as np

from ...history import History
from ...prompts import lapt as prompts
from ...space import Categorical, Config, Float, Integer, SearchSpace
from ...untried import enumerate_configs

_ENUMERATE_LIMIT = 50_000  # refined spaces up to this size are enumerated once random draws fail
_COUNT_LIMIT = 4096
"""Refined spaces up to this size have their untried configurations counted once random draws
keep failing (counting costs about what a few hundred failing draws cost)."""


def describe_provenance(provenance: Mapping[str, Any]) -> str:
    """One line on where principles came from, for logs."""
    if not provenance:
        return "no provenance recorded"
    parts = [f"{provenance.get('kind', '?')} from {provenance.get('source', '?')} at step {provenance.get('step', '?')}"]
    exported = provenance.get("exported")
    if isinstance(exported, Mapping):
        parts.append("exported by " + ", ".join(f"{k}={v}" for k, v in exported.items() if k != "at")
                     + f" at {exported.get('at', '?')}")
    return "; ".join(parts)


def full_whitelist(space: SearchSpace) -> dict[str, Any]:
    """The whitelist that keeps every value: the full space."""
    out: dict[str, Any] = {}
    for dim in prompts.restrictable(space):
        out[dim.name] = (list(dim.encoded_choices) if isinstance(dim, Categorical)
                         else {"low": dim.low, "high": dim.high})
    return out


def normalize_whitelist(space: SearchSpace, raw: Mapping[str, Any], max_options: int | None,
                        data: History | None, check_top_k: int) -> tuple[dict[str, Any], list[str]]:
    """A whitelist made valid for ``space``, and what was changed (one note per change).

    Invalid values are dropped, an empty or missing entry becomes the full dimension, values
    past ``max_options`` are dropped; with ``data``, a value every one of its top
    ``check_top_k`` uses but the whitelist excludes is added back (``"repaired"`` notes)."""
    notes: list[str] = []
    out: dict[str, Any] = {}
    if not isinstance(raw, Mapping):
        raw = {}
    unknown = sorted(set(raw) - set(space.names))
    if unknown:
        notes.append(f"ignored whitelist entries for unknown dimensions {unknown}")
    top = data.top(check_top_k) if data is not None and check_top_k > 0 else []
    for dim in prompts.restrictable(space):
        entry = raw.get(dim.name)
        used = [o.config[dim.name] for o in top if dim.name in o.config]
        if isinstance(dim, Categorical):
            values = entry if isinstance(entry, list) else ([entry] if entry is not None and not isinstance(entry, dict) else [])
            kept: list[Any] = []
            bad: list[Any] = []
            for value in values:
                try:
                    choice = dim.decode(value)
                except ValueError:
                    bad.append(value)
                    continue
                if all(dim.key(choice) != dim.key(k) for k in kept):
                    kept.append(choice)
            if bad:
                notes.append(f"{dim.name}: dropped invalid values {bad!r}")
            if not kept:
                notes.append(f"{dim.name}: whitelist entry missing, empty or invalid ({entry!r}); using the full dimension")
                kept = list(dim.choices)
            elif max_options is not None and len(kept) > max_options:
                notes.append(f"{dim.name}: kept the first {max_options} of {len(kept)} values")
                kept = kept[:max_options]
            keys = {dim.key(k) for k in kept}
            if len(used) >= 2 and len({dim.key(u) for u in used}) == 1 and dim.key(used[0]) not in keys:
                notes.append(f"repaired {dim.name}: added {dim.encoded_choices[dim.index(used[0])]!r}, which all "
                             f"top {len(used)} architectures of the data shown use but the whitelist excluded")
                kept.append(used[0])
            order = {dim.key(c): i for i, c in enumerate(dim.choices)}
            out[dim.name] = [dim.encoded_choices[order[dim.key(c)]] for c in sorted(kept, key=lambda c: order[dim.key(c)])]
        else:
            low, high = _numeric_range(dim, entry)
            if low is None:
                notes.append(f"{dim.name}: whitelist range missing or invalid ({entry!r}); using the full range")
                low, high = dim.low, dim.high
            if len(used) >= 2 and all(not low <= u <= high for u in used):
                low, high = min(low, *used), max(high, *used)
                notes.append(f"repaired {dim.name}: widened the range to [{low}, {high}] to cover the values all "
                             f"top {len(used)} architectures of the data shown use")
            out[dim.name] = {"low": low, "high": high}
    return out, notes


def _numeric_range(dim: Integer | Float, entry: Any) -> tuple[Any, Any]:
    if not isinstance(entry, Mapping):
        return None, None
    try:
        low, high = float(entry["low"]), float(entry["high"])
    except (KeyError, TypeError, ValueError):
        return None, None
    if not (math.isfinite(low) and math.isfinite(high)):
        return None, None
    low, high = sorted((low, high))
    low, high = max(low, dim.low), min(high, dim.high)
    if isinstance(dim, Integer):  # onto the grid, inside the range
        low = dim.low + math.ceil((low - dim.low) / dim.step - 1e-9) * dim.step
        high = dim.low + math.floor((high - dim.low) / dim.step + 1e-9) * dim.step
        low, high = int(low), int(high)
    elif dim.step is not None:
        low = dim._grid_value(math.ceil((low - dim.low) / dim.step - 1e-9))
        high = dim._grid_value(math.floor((high - dim.low) / dim.step + 1e-9))
    if low > high:
        return None, None
    return low, high


def refined_space(space: SearchSpace, whitelist: Mapping[str, Any]) -> SearchSpace:
    """The space restricted to a (normalized) whitelist; values keep the host's types."""
    dims: list[Any] = []
    for dim in space:
        entry = whitelist.get(dim.name)
        if isinstance(dim, Categorical) and isinstance(entry, list) and entry:
            keep = {json.dumps(e, sort_keys=True) for e in entry}
            idx = [i for i, e in enumerate(dim.encoded_choices) if json.dumps(e, sort_keys=True) in keep]
            if idx:
                dims.append(Categorical(dim.name, [dim.choices[i] for i in idx],
                                        [dim.descriptions[i] for i in idx] if dim.descriptions else None))
                continue
        elif isinstance(dim, Integer) and isinstance(entry, Mapping):
            dims.append(Integer(dim.name, int(entry["low"]), int(entry["high"]), dim.step,
                                dim.log and int(entry["low"]) >= 1))
            continue
        elif isinstance(dim, Float) and isinstance(entry, Mapping):
            dims.append(Float(dim.name, float(entry["low"]), float(entry["high"]), dim.step, dim.log))
            continue
        dims.append(dim)
    return SearchSpace(dims)


def restricts(space: SearchSpace, whitelist: Mapping[str, Any]) -> bool:
    """Whether a (normalized) whitelist leaves out any value of ``space`` (``False``: the
    refined space is the whole space).

    >>> from llmnas import Categorical, SearchSpace
    >>> space = SearchSpace([Categorical("op", ["a", "b", "c"])])
    >>> restricts(space, {"op": ["a", "b"]}), restricts(space, full_whitelist(space)), restricts(space, {})
    (True, False, False)
    """
    return any(refined != dim for refined, dim in zip(refined_space(space, whitelist), space))


def inside(space: SearchSpace, whitelist: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Whether ``config`` uses only whitelisted values (see :class:`Whitelist` to test many)."""
    return Whitelist(space, whitelist).admits(config)


class Whitelist:
    """A whitelist compiled for ``space``: the allowed keys of each categorical dimension and
    the range of each numeric one are worked out once, so testing a configuration costs one
    key per restricted dimension (LAPT tests the recent history against it every batch).

    >>> from llmnas import Categorical, SearchSpace
    >>> space = SearchSpace([Categorical("op", ["a", "b", "c"]), Categorical("n", [1, 2])])
    >>> check = Whitelist(space, {"op": ["a", "b"]})
    >>> check.admits({"op": "a", "n": 2}), check.admits({"op": "c", "n": 1})
    (True, False)
    """

    def __init__(self, space: SearchSpace, whitelist: Mapping[str, Any]) -> None:
        # (name, categorical dimension, allowed keys, low, high), in the space's order
        self._checks: list[tuple[str, Categorical | None, set, Any, Any]] = []
        for dim in prompts.restrictable(space):
            entry = whitelist.get(dim.name)
            if isinstance(dim, Categorical):
                if isinstance(entry, list):
                    self._checks.append((dim.name, dim, {dim.key(_decode_or(dim, e)) for e in entry}, None, None))
            elif isinstance(entry, Mapping):
                self._checks.append((dim.name, None, set(), entry["low"], entry["high"]))

    def admits(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` uses only whitelisted values (dimensions it lacks are not checked)."""
        for name, dim, allowed, low, high in self._checks:
            if name not in config:
                continue
            if dim is not None:
                if dim.key(config[name]) not in allowed:
                    return False
            elif not low <= config[name] <= high:
                return False
        return True


def _decode_or(dim: Categorical, value: Any) -> Any:
    try:
        return dim.decode(value)
    except ValueError:
        return value


def _remaining(refined: SearchSpace, rng: Any, n: int, seen: set, space: SearchSpace) -> list[Config]:
    """Up to ``n`` untried configurations of a small, finite refined space (enumerated)."""
    if not all(isinstance(d, (Categorical, Integer)) for d in refined) or refined.size() > _ENUMERATE_LIMIT:
        return []
    values = [list(d.choices) if isinstance(d, Categorical) else list(range(d.low, d.high + 1, d.step))
              for d in refined]
    left = [dict(zip(refined.names, combo)) for combo in itertools.product(*values)]
    left = [c for c in left if space.key(c) not in seen]
    if len(left) > n:
        picks = rng.choice(len(left), size=n, replace=False)
        left = [left[int(i)] for i in picks]
    return left



class UntriedCount:
    """How many configurations of a small refined space have keys (over ``space``) not in
    ``seen``: counted by enumerating at the first :meth:`none_left`, then kept by :meth:`saw`.
    Only categorical and integer dimensions, whose enumeration is exactly what ``sample`` can
    draw; other or larger spaces are never counted (:meth:`none_left` stays false)."""

    def __init__(self, refined: SearchSpace, space: SearchSpace, seen: Container[Any]) -> None:
        self._refined, self._space, self._seen = refined, space, seen
        self._keys: set[Any] | None = None
        self.left: int | None = None

    def none_left(self) -> bool:
        """Whether every configuration of the refined space is in ``seen``."""
        if self._keys is None:
            self._keys = set()
            countable = all(type(d) in (Categorical, Integer) for d in self._refined)
            configs = enumerate_configs(self._refined, _COUNT_LIMIT) if countable else None
            if configs is not None:
                self._keys = {self._space.key(c) for c in configs}
                self.left = sum(k not in self._seen for k in self._keys)
        return self.left == 0

    def saw(self, key: Any) -> None:
        """``key`` has just been added to ``seen``."""
        if self.left is not None and self._keys is not None and key in self._keys:
            self.left -= 1


def discard_samples(space: SearchSpace, rng: np.random.Generator, count: int) -> None:
    """Move ``rng`` on exactly as ``count`` calls of ``space.sample(rng)`` would, dropping what
    they draw: for an all-categorical space every index in one ``integers`` call (numpy fills an
    array with the same bounded draws, in order), else one ``sample`` at a time."""
    if count <= 0:
        return
    if not space.dimensions or not all(type(d) is Categorical for d in space):
        for _ in range(count):
            space.sample(rng)
        return
    counts = np.asarray([len(d.choices) for d in space.dimensions], dtype=np.int64)  # type: ignore[union-attr]
    rng.integers(0, np.tile(counts, count))
