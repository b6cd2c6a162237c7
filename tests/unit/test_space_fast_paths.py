"""The space's shortcuts for loops that retry thousands of times a batch (keys, mutations and
samples) give exactly what the plain per-dimension code gives, with the same random draws in
the same order: a seed must keep proposing what it proposed."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest

from llmnas.methods.operators import mutate
from llmnas.space import Categorical, Config, Float, Integer, SearchSpace


def _plain_sample(space: SearchSpace, rng: np.random.Generator) -> Config:
    return {d.name: d.sample(rng) for d in space.dimensions}


def _plain_key(space: SearchSpace, config: Config) -> tuple[Any, ...]:
    return tuple((d.name, d.key(config[d.name]) if d.name in config else None) for d in space.dimensions)


SPACES = {
    "same counts": SearchSpace([Categorical(f"e{i}", ["a", "b", "c", "d", "e"]) for i in range(6)]),
    "mixed counts": SearchSpace([Categorical("one", ["only"]), Categorical("two", [1, 2]),
                                 Categorical("seven", list(range(7))), Categorical("objs", [(1,), None, 2.5])]),
    "not all categorical": SearchSpace([Categorical("op", ["x", "y"]), Integer("depth", 1, 8),
                                        Float("lr", 1e-4, 1e-1, log=True)]),
}


@pytest.mark.parametrize("name", list(SPACES))
def test_sample_draws_what_one_draw_per_dimension_draws(name: str) -> None:
    space = SPACES[name]
    for seed in range(300):
        fast, plain = np.random.default_rng(seed), np.random.default_rng(seed)
        for step in range(8):  # interleaved with other draws, as the methods' loops do
            assert space.sample(fast) == _plain_sample(space, plain)
            if step % 3 == 0:
                assert fast.random() == plain.random()
            if step % 4 == 1:
                picks = fast.choice(10, size=3, replace=False)
                assert picks.tolist() == plain.choice(10, size=3, replace=False).tolist()
        assert fast.bit_generator.state == plain.bit_generator.state


def test_keys_others_and_varying_match_the_plain_definitions() -> None:
    space = SPACES["mixed counts"]
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = space.sample(rng)
        assert space.key(config) == _plain_key(space, config)
        partial = {k: v for k, v in config.items() if k != "two"}
        assert space.key(partial) == _plain_key(space, partial)
        for dim in space.dimensions:
            assert isinstance(dim, Categorical)
            value = config[dim.name]
            assert list(dim.others(value)) == [c for c in dim.choices if dim.key(c) != dim.key(value)]
    dim = space["two"]
    assert isinstance(dim, Categorical) and dim.others("not a choice") == (1, 2)
    assert [d.name for d in space.varying()] == [d.name for d in space if d.size() > 1]


def test_mutate_draws_as_before() -> None:
    """``mutate`` over the cached lookups: the recorded children of seed 0 (the plain code's)."""
    space = SPACES["same counts"]
    parent = {d.name: "a" for d in space}
    rng = np.random.default_rng(0)
    children = [mutate(space, parent, rng, n_dims=1 + k % 2) for k in range(4)]
    reference = np.random.default_rng(0)
    expected = []
    for k in range(4):
        child = dict(parent)
        mutable = [d for d in space if d.size() > 1]
        for i in reference.choice(len(mutable), size=1 + k % 2, replace=False):
            dim = mutable[int(i)]
            others = [c for c in dim.choices if dim.key(c) != dim.key(child[dim.name])]
            child[dim.name] = others[int(reference.integers(len(others)))]
        expected.append(child)
    assert children == expected


@pytest.mark.parametrize("name", list(SPACES))
def test_copies_and_pickles_rebuild_the_lookups(name: str) -> None:
    space = SPACES[name]
    for other in (pickle.loads(pickle.dumps(space)), copy.copy(space), copy.deepcopy(space)):
        assert other == space and hash(other) == hash(space)
        assert space.sample(np.random.default_rng(3)) == other.sample(np.random.default_rng(3))
        config = space.sample(np.random.default_rng(4))
        assert other.key(config) == space.key(config)
