"""Non-LLM evolutionary operators over a :class:`~llmnas.space.SearchSpace`.

Used by the methods as their own fallback operators (when the LLM is off, fails or answers
nothing usable) and by the evolutionary parts of the methods themselves.
"""

from __future__ import annotations

import math
from typing import Any, Container, Sequence

import numpy as np

from ..history import History, Observation
from ..space import Categorical, Config, Dimension, Float, Integer, MultiChoice, SearchSpace

_MAX_TRIES = 200


class KeysSeen:
    """The keys of ``taken`` plus those added here, without copying ``taken`` (the keys of the
    whole history): ``in`` looks in both, :meth:`add` only records here. ``taken`` must not
    change while this is in use (the operators only read it)."""

    __slots__ = ("taken", "added")

    def __init__(self, taken: Container[Any]) -> None:
        self.taken = taken
        self.added: set = set()

    def __contains__(self, key: object) -> bool:
        return key in self.added or key in self.taken

    def add(self, key: Any) -> None:
        self.added.add(key)


def mutate_value(dim: Dimension, value: Any, rng: np.random.Generator) -> Any:
    """A different value of one dimension, near the old one for numbers."""
    if isinstance(dim, Categorical):
        if len(dim.choices) < 2:
            return value
        others = dim.others(value)
        return others[int(rng.integers(len(others)))]
    if isinstance(dim, MultiChoice):
        current = list(value)
        unused = [c for c in dim.choices if dim._inner.key(c) not in {dim._inner.key(v) for v in current}]
        if dim.n_chosen is None and (not current or not unused or rng.random() < 0.5):
            # Add or drop one value.
            if current and (not unused or rng.random() < 0.5):
                current.pop(int(rng.integers(len(current))))
            elif unused:
                current.append(unused[int(rng.integers(len(unused)))])
            return current
        if current and unused:
            current[int(rng.integers(len(current)))] = unused[int(rng.integers(len(unused)))]
        return current
    if isinstance(dim, Integer):
        span = max(1, (dim.high - dim.low) // dim.step)
        for _ in range(10):
            jump = int(round(rng.normal(0, max(1.0, 0.2 * span)))) or int(rng.choice([-1, 1]))
            candidate = int(value) + jump * dim.step
            if dim.low <= candidate <= dim.high and candidate != value:
                return candidate
        return dim.sample(rng)
    if isinstance(dim, Float):
        if dim.log:
            candidate = math.exp(math.log(value) + rng.normal(0, 0.2 * math.log(dim.high / dim.low) or 1.0))
        else:
            candidate = value + rng.normal(0, 0.2 * dim.high - 0.2 * dim.low)  # no overflow on huge ranges
        candidate = float(min(max(candidate, dim.low), dim.high))
        if dim.step is not None:
            candidate = dim.low + round((candidate - dim.low) / dim.step) * dim.step
            candidate = float(min(candidate, dim.high))
        return candidate
    raise TypeError(f"unknown dimension type {type(dim).__name__}")


def mutate(space: SearchSpace, config: Config, rng: np.random.Generator, n_dims: int = 1) -> Config:
    """``config`` with ``n_dims`` randomly chosen dimensions changed. Dimensions the parent
    lacks (a conditional space) are filled at random first and are not counted as mutated."""
    child = {d.name: config[d.name] if d.name in config else d.sample(rng) for d in space}
    varying = space.varying()
    mutable = [d for d in varying if d.name in config] or list(varying)
    if not mutable:
        return child
    picks = rng.choice(len(mutable), size=min(n_dims, len(mutable)), replace=False)
    for i in picks:
        dim = mutable[int(i)]
        child[dim.name] = mutate_value(dim, child[dim.name], rng)
    return child


def uniform_crossover(space: SearchSpace, a: Config, b: Config, rng: np.random.Generator) -> Config:
    """Each dimension from ``a`` or ``b`` with equal chance."""
    return {d.name: (a if rng.random() < 0.5 else b).get(d.name, d.sample(rng)) for d in space}


def tournament(history: History, rng: np.random.Generator, size: int, pool: Sequence[Observation] | None = None) -> Observation | None:
    """The best of ``size`` observations drawn at random from ``pool`` (default: all usable)."""
    count = len(pool) if pool is not None else history.n_usable
    if not count:
        return None
    at = pool.__getitem__ if pool is not None else history.usable_at  # the history's list is not copied
    picks = rng.choice(count, size=min(size, count), replace=False)
    return min([at(i) for i in picks.tolist()], key=history.rank_position)


def unique_random(space: SearchSpace, rng: np.random.Generator, n: int, taken: Container[Any]) -> list[Config]:
    """Up to ``n`` random configurations whose keys are not in ``taken`` (nor repeated)."""
    out: list[Config] = []
    seen = KeysSeen(taken)
    tries = 0
    while len(out) < n and tries < _MAX_TRIES * max(1, n):
        tries += 1
        config = space.sample(rng)
        key = space.key(config)
        if key not in seen:
            seen.add(key)
            out.append(config)
    return out


def mutate_or_random(
    space: SearchSpace, history: History, rng: np.random.Generator, n: int, taken: Container[Any],
    *, parents: int = 10, tournament_size: int = 3,
) -> list[Config]:
    """The default fallback: mutations of good configurations (tournament among the top
    ``parents``), then random configurations, never one whose key is in ``taken``."""
    out: list[Config] = []
    seen = KeysSeen(taken)
    top = history.top(parents)
    tries = 0
    while top and len(out) < n and tries < _MAX_TRIES * max(1, n):
        tries += 1
        parent = tournament(history, rng, tournament_size, top)
        assert parent is not None
        child = mutate(space, parent.config, rng, n_dims=1 + int(tries > 5 * n) + int(tries > 20 * n))
        key = space.key(child)
        if key not in seen and not space.validate(child):
            seen.add(key)
            out.append(child)
    if len(out) < n:
        out.extend(unique_random(space, rng, n - len(out), seen))
    return out
