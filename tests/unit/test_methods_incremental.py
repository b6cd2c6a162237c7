"""The methods read the history incrementally (bounded scans, maintained indexes) and must see
exactly what a full rebuild sees: checked here against the straightforward whole-history
versions on random histories with ties, failures, pruned and infeasible trials."""

from __future__ import annotations

import numpy as np
import pytest

from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace
from llmnas.history import TrialState
from llmnas.methods import LAPT, CoLLMNAS
from llmnas.methods.lapt import Whitelist, _best_of_first, inside
from llmnas.methods.operators import mutate_or_random, unique_random
from llmnas.prompts.tried import tried_block
from llmnas.proposals import Context

SPACE = SearchSpace([Categorical(f"e{i}", [0, 1, 2]) for i in range(3)])


def random_history(rng: np.random.Generator, n: int, directions: tuple[str, ...] = ("maximize",)) -> History:
    history = History(directions=directions)
    kept: list[Observation] = []
    for _ in range(n):
        if kept and rng.random() < 0.05:  # the same object twice
            history.add(kept[int(rng.integers(len(kept)))])
            continue
        config = SPACE.sample(rng)
        state = [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED][int(rng.integers(4))]
        values = None if state == TrialState.FAILED else tuple(float(rng.integers(4)) for _ in directions)  # ties
        obs = Observation(config, values, state, feasible=bool(rng.random() < 0.8))
        kept.append(obs)
        history.add(obs)
    return history


@pytest.mark.parametrize("directions", [("maximize",), ("minimize",), ("maximize", "minimize")])
def test_lapt_best_of_a_prefix_is_the_rebuilt_prefix_best(directions):
    rng = np.random.default_rng(0)
    for _ in range(60):
        history = random_history(rng, int(rng.integers(0, 40)), directions)
        for k in range(len(history) + 2):
            expected = History(list(history)[:k], directions).best()
            assert _best_of_first(history, k) is expected


def test_the_lapt_population_is_the_latest_inside_the_whitelist():
    rng = np.random.default_rng(1)
    method = LAPT(population=4, tournament_size=2)
    whitelist = {"e0": [0, 1], "e2": [2]}
    check = Whitelist(SPACE, whitelist)
    for _ in range(60):
        history = random_history(rng, int(rng.integers(0, 60)))
        expected = [o for o in history.usable if inside(SPACE, whitelist, o.config)][-4:]
        assert method._recent_inside(history, check) == expected
        assert all(check.admits(o.config) == inside(SPACE, whitelist, o.config) for o in history)


def test_collm_best_within_limit_is_the_first_of_the_ranking_that_fits():
    rng = np.random.default_rng(2)
    small = lambda config: sum(config.values()) <= 2  # noqa: E731
    method = CoLLMNAS(resource_limit=small)
    for _ in range(60):
        history = random_history(rng, int(rng.integers(0, 80)))
        expected = next((o for o in history.ranked()
                         if o.feasible and o.state == TrialState.COMPLETE and small(o.config)), None)
        assert method.best_within_limit(history) is expected
    assert CoLLMNAS().has_stop_rule is False and CoLLMNAS(target=1.0).has_stop_rule is True


def test_the_failure_list_of_a_prompt_follows_a_growing_history():
    rng = np.random.default_rng(3)
    history = History()
    ctx = Context(space=SPACE, history=history, knowledge=InMemoryKnowledge(), llm=None, rng=rng,
                  prompt_history="lists")
    for _ in range(120):
        config = SPACE.sample(rng)
        history.add(Observation(config, None, TrialState.FAILED) if rng.random() < 0.4
                    else Observation(config, (float(rng.random()),)))
        text = tried_block(ctx, top=3, recent=3)
        seen = {SPACE.key(o.config) for o in history.top(3) + history.recent(3)}
        failed = [o for o in history if o.state == TrialState.FAILED and SPACE.key(o.config) not in seen]
        if failed:
            assert f"({len(failed)} more; the latest)" in text
            assert text.count("\n- ") == min(4, len(failed))
        else:
            assert "Failed to train" not in text


def test_the_operators_never_change_or_copy_the_taken_keys():
    rng = np.random.default_rng(4)
    history = random_history(rng, 10)
    taken = frozenset(SPACE.key(o.config) for o in history)  # read-only: any write would raise
    for configs in (unique_random(SPACE, rng, 5, taken), mutate_or_random(SPACE, history, rng, 5, taken)):
        keys = [SPACE.key(c) for c in configs]
        assert len(set(keys)) == len(keys) and not set(keys) & taken
