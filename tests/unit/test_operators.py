"""The non-LLM operators and the searcher's own guarantees (no LLM involved)."""

from __future__ import annotations

import numpy as np
import pytest

from llmnas import (Categorical, Float, History, InMemoryKnowledge, Integer, MultiChoice,
                    Observation, SearchSpace, Searcher, SpaceExhausted)
from llmnas.methods import SEKI
from llmnas.methods.operators import mutate, mutate_or_random, uniform_crossover

SPACE = SearchSpace([
    Categorical("op", ["a", "b", "c"]),
    Integer("depth", 1, 9, step=2),
    Float("lr", 1e-4, 1.0, log=True),
    Float("drop", 0.0, 0.5, step=0.1),
    MultiChoice("inputs", [0, 1, 2], n_chosen=None),
])


def test_mutation_changes_exactly_the_requested_dimensions_and_stays_valid():
    rng = np.random.default_rng(0)
    for _ in range(300):
        parent = SPACE.sample(rng)
        child = mutate(SPACE, parent, rng, n_dims=1)
        assert SPACE.validate(child) == []
        changed = [n for n in SPACE.names if SPACE[n].key(child[n]) != SPACE[n].key(parent[n])]
        assert len(changed) <= 1


def test_crossover_takes_each_value_from_a_parent():
    rng = np.random.default_rng(1)
    a, b = SPACE.sample(rng), SPACE.sample(rng)
    child = uniform_crossover(SPACE, a, b, rng)
    assert all(child[n] in (a[n], b[n]) for n in SPACE.names)


def test_fallback_never_returns_taken_configs():
    rng = np.random.default_rng(2)
    space = SearchSpace([Categorical("x", list(range(6))), Categorical("y", list(range(6)))])
    history = History()
    for i in range(20):
        history.add(Observation({"x": i % 6, "y": i // 6}, (float(i),)))
    taken = {space.key(o.config) for o in history}
    out = mutate_or_random(space, history, rng, 10, taken)
    keys = [space.key(c) for c in out]
    assert len(out) == 10 and len(set(keys)) == 10 and not set(keys) & taken


def test_searcher_without_llm_serves_distinct_configs_until_the_space_is_exhausted():
    space = SearchSpace([Categorical("x", ["p", "q"]), Categorical("y", [1, 2])])
    searcher = Searcher(SEKI(budget=4), seed=0, use_llm=False)
    history, knowledge = History(), InMemoryKnowledge()
    for i in range(4):
        [proposal] = searcher.next_proposals(space, history, [], knowledge)
        assert proposal.source == "fallback" and proposal.reason == "no LLM configured"
        history.add(Observation(proposal.config, (float(i),)))
    assert len({space.key(o.config) for o in history}) == 4
    with pytest.raises(SpaceExhausted):
        searcher.next_proposals(space, history, [], knowledge)
    summary = searcher.summary()
    assert summary["proposals"] == 4 and summary["pipeline"]["fallback_proposals"] == 4


def test_searcher_is_deterministic_for_a_seed_and_refuses_bad_arguments():
    def run(seed):
        s = Searcher(SEKI(budget=10), seed=seed, use_llm=False)
        return [p.config for p in s.next_proposals(SPACE, History(), [], InMemoryKnowledge(), n=5)]

    assert run(3) == run(3)
    assert run(3) != run(4)
    with pytest.raises(ValueError, match="seed"):
        Searcher(SEKI(), seed=-1)
    with pytest.raises(TypeError, match="spec string"):
        Searcher(SEKI(), llm=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        Searcher(SEKI(), use_llm=False).next_proposals(SearchSpace([]), History(), [], InMemoryKnowledge())


@pytest.mark.parametrize(
    "kwargs", [{"budget": 0}, {"self_evolution_fraction": 1.5}, {"top_k": 3, "n_inspiration": 5},
               {"batch_size": 0}, {"current": "random"}],
)
def test_seki_checks_its_arguments(kwargs):
    with pytest.raises(ValueError):
        SEKI(**kwargs)


def test_mutating_a_conditional_parent_fills_what_it_lacks_and_changes_what_it_used():
    rng = np.random.default_rng(4)
    space = SearchSpace([Integer("n_layers", 1, 3), Integer("u1", 1, 100), Integer("u2", 1, 100)])
    parent = {"n_layers": 1, "u1": 50}  # u2 unused by this trial
    for _ in range(50):
        child = mutate(space, parent, rng, n_dims=1)
        assert space.validate(child) == []
        assert child["n_layers"] != 1 or child["u1"] != 50, "a dimension the parent used changed"
