"""Finding an untried configuration without the method: at random, then by enumerating a small
space; and proving a finite space exhausted.

The :class:`~llmnas.searcher.Searcher` uses these when the method cannot help (it failed, the
LLM is down, every proposal clashed with another worker's), so that every host picks its own
stand-in the same way and says the same when nothing is left.

Example:
    >>> from llmnas.space import Categorical, Integer, SearchSpace
    >>> space = SearchSpace([Categorical("op", ["a", "b"]), Integer("depth", 1, 2)])
    >>> len(list(enumerate_configs(space, 100)))
    4
    >>> import numpy as np
    >>> taken = {space.key({"op": "a", "depth": 1}), space.key({"op": "a", "depth": 2}),
    ...          space.key({"op": "b", "depth": 1})}
    >>> find_untried(space, lambda c: space.key(c) in taken, lambda c: [], np.random.default_rng(0))
    ({'op': 'b', 'depth': 2}, False)
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .space import Categorical, Config, Dimension, Float, Integer, SearchSpace

__all__ = ["ENUMERATION_LIMIT", "RANDOM_TRIES", "enumerate_configs", "find_untried", "repeat_candidate"]

ENUMERATION_LIMIT = 20_000
"""The largest space whose configurations are enumerated to find one that is left, or to prove
that none is."""

RANDOM_TRIES = 256
"""Random draws tried before enumerating."""


def _values(dim: Dimension) -> list[Any] | None:
    if isinstance(dim, Categorical):
        return list(dim.choices)
    if isinstance(dim, Integer):
        return list(range(dim.low, dim.high + 1, dim.step))
    if isinstance(dim, Float):
        if dim.step is not None:
            n = int(dim.size()) - 1
            return [float(dim.low + dim.step * k) for k in range(n + 1)]
        return [dim.low] if dim.low == dim.high else None
    return None


def enumerate_configs(space: SearchSpace, limit: int) -> Iterator[Config] | None:
    """Every configuration of ``space`` (lazily), or ``None`` when it has more than ``limit``
    (or infinitely many)."""
    if not space.names or space.size() > limit:
        return None
    columns = [_values(dim) for dim in space]
    if any(c is None for c in columns):
        return None
    names = space.names
    return (dict(zip(names, combo)) for combo in itertools.product(*columns))  # type: ignore[arg-type]


def find_untried(
    space: SearchSpace, is_taken: Callable[[Config], bool], problems: Callable[[Config], Sequence[str]],
    rng: np.random.Generator,
) -> tuple[Config | None, bool]:
    """An untried configuration without problems (:data:`RANDOM_TRIES` random draws, then by
    enumerating a space of at most :data:`ENUMERATION_LIMIT`), and whether the space is proven
    exhausted (``(None, True)``); ``(None, False)`` when none was found and none is proven."""
    for _ in range(RANDOM_TRIES):
        config = space.sample(rng)
        if not is_taken(config) and not problems(config):
            return config, False
    configs = enumerate_configs(space, ENUMERATION_LIMIT)
    if configs is None:
        return None, False
    free = [c for c in configs if not is_taken(c) and not problems(c)]
    if not free:
        return None, True
    return free[int(rng.integers(len(free)))], False


def repeat_candidate(
    space: SearchSpace, finished: Sequence[Config], problems: Callable[[Config], Sequence[str]],
    rng: np.random.Generator,
) -> Config:
    """A configuration to evaluate again when nothing new is left: a finished one without
    problems (e.g. within a method's resource limit), else a random one."""
    complete = [c for c in finished if len(c) == len(space)]
    for i in rng.permutation(len(complete))[:RANDOM_TRIES] if complete else []:
        if not problems(complete[int(i)]):
            return dict(complete[int(i)])
    return space.sample(rng)
