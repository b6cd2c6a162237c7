"""LAPT once its refined space is used up: the random loops' remaining draws are made in one
call instead of one failing try at a time, and a seed proposes exactly what the try-by-try
loops proposed (same configurations, same sources, the generator left in the same state)."""

from __future__ import annotations

import numpy as np
import pytest

from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace, Searcher
from llmnas.methods import lapt as lapt_module
from llmnas.methods.lapt import LAPT
from llmnas.methods.lapt import whitelist as whitelist_module

OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]
NAMES = [f"cell/{e}" for e in ("0_1", "0_2", "1_2", "0_3", "1_3", "2_3")]
SPACE = SearchSpace([Categorical(name, OPS) for name in NAMES])
WHITELISTS = {
    "same counts": {name: ["conv_3x3", "skip_connect"] if i < 3 else ["conv_3x3"] for i, name in enumerate(NAMES)},
    "mixed counts": {NAMES[0]: ["conv_3x3", "none", "skip_connect"], NAMES[1]: ["conv_1x1", "conv_3x3"],
                     **{name: ["avg_pool_3x3"] for name in NAMES[2:]}},
}


def _run(whitelist: dict, trials: int) -> tuple[list[tuple], dict]:
    searcher = Searcher(LAPT(source={"text": "t", "whitelist": whitelist}), llm=None, use_llm=False, seed=3)
    history, knowledge = History(), InMemoryKnowledge()
    while len(history) < trials:
        [p] = searcher.next_proposals(SPACE, history, [], knowledge)
        value = sum(OPS.index(v) for v in p.config.values())
        history.add(Observation(p.config, (float(value),), trial_id=len(history), metrics={"source": p.source}))
    return [(tuple(o.config.values()), o.metrics["source"]) for o in history], searcher.rng.bit_generator.state


@pytest.mark.parametrize("name", list(WHITELISTS))
def test_a_used_up_refined_space_proposes_as_the_try_by_try_loops(name: str, monkeypatch) -> None:
    calls: list[int] = []
    discard = whitelist_module.discard_samples

    def counted(space, rng, count):  # type: ignore[no-untyped-def]
        calls.append(count)
        discard(space, rng, count)

    monkeypatch.setattr(lapt_module, "discard_samples", counted)
    fast = _run(WHITELISTS[name], 40)
    assert calls, "the refined space was never found used up"
    monkeypatch.setattr(whitelist_module.UntriedCount, "none_left", lambda self: False)  # the plain loops
    assert _run(WHITELISTS[name], 40) == fast


@pytest.mark.parametrize("counts", [[5] * 6, [1, 2, 3, 5, 7, 1], [1]])
def test_discarded_samples_draw_what_samples_draw(counts: list[int]) -> None:
    space = SearchSpace([Categorical(f"d{i}", list(range(c))) for i, c in enumerate(counts)])
    for seed in range(100):
        one, other = np.random.default_rng(seed), np.random.default_rng(seed)
        whitelist_module.discard_samples(space, one, 37)
        for _ in range(37):
            space.sample(other)
        assert one.bit_generator.state == other.bit_generator.state
        assert space.sample(one) == space.sample(other)


def test_untried_count_follows_what_is_seen() -> None:
    refined = SearchSpace([Categorical("a", ["x", "y"]), Categorical("b", ["z"])])
    seen = {refined.key({"a": "x", "b": "z"})}
    count = whitelist_module.UntriedCount(refined, refined, seen)
    assert not count.none_left() and count.left == 1
    key = refined.key({"a": "y", "b": "z"})
    seen.add(key)
    count.saw(key)
    assert count.none_left()
