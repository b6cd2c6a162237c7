"""The surrogate screen (``screen=True``): features, ranking, and what it does inside the
Searcher and both hosts (counts that add up, nothing lost when it fails, the default path
untouched)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from llmnas import Categorical, Float, History, InMemoryKnowledge, Integer, MultiChoice, SearchSpace, Searcher
from llmnas.history import Observation
from llmnas.methods import SEKI
from llmnas.screening import SurrogateScreen, features
from nni.nas.execution import SequentialExecutionEngine
from nni_llm_strategies import GPTEAStrategy, SEKIStrategy
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.nni.test_nni_strategy import check_distinct_and_valid, tiny_space
from tests.optuna.conftest import nas_objective, params_key

OPS = ["none", "skip", "conv1", "conv3", "pool"]
WEIGHT = {"none": 0.0, "skip": 1.0, "conv1": 2.0, "conv3": 3.5, "pool": 1.5}
SPACE = SearchSpace([Categorical(f"e{i}", OPS) for i in range(6)])


def score(config: dict) -> float:
    return sum((i + 1) * WEIGHT[config[f"e{i}"]] for i in range(6))


def history_of(configs: list[dict]) -> History:
    history = History()
    for config in configs:
        history.add(Observation(config, (score(config),)))
    return history


def test_features_one_hot_and_scaled_numbers():
    space = SearchSpace([
        Categorical("op", ["a", "b", "c"]), Integer("width", 8, 64), Float("lr", 1e-4, 1e-1, log=True),
        MultiChoice("extras", ["x", "y", "z"]),
    ])
    rows = features(space, [
        {"op": "a", "width": 8, "lr": 1e-4, "extras": []},
        {"op": "c", "width": 64, "lr": 1e-1, "extras": ["x", "z"]},
        {"op": "b", "width": 36, "lr": math.sqrt(1e-4 * 1e-1)},  # no "extras": all zeros
    ])
    assert rows.shape == (3, 3 + 1 + 1 + 3)
    assert np.allclose(rows[:, 3], [0.0, 1.0, 0.5]) and np.allclose(rows[:, 4], [0.0, 1.0, 0.5])  # log scale
    # One differing categorical choice is at distance 1, like a full swing of a number.
    assert np.linalg.norm(rows[0, :3] - rows[1, :3]) == pytest.approx(1.0)
    assert np.allclose(rows[1, 5:] * math.sqrt(2), [1, 0, 1]) and not rows[2, 5:].any()


def test_rank_prefers_what_the_history_predicts_is_better():
    rng = np.random.default_rng(0)
    history = history_of([SPACE.sample(rng) for _ in range(30)])
    pool = [SPACE.sample(rng) for _ in range(200)]
    picks = SurrogateScreen().rank(SPACE, history, pool, 10)
    assert len(picks) == 10 and len({SPACE.key(c) for c in picks}) == 10
    assert all(any(c is p for p in pool) for c in picks), "picks come from the pool"
    # Picked candidates score far above the pool on a function the model has to learn.
    assert np.mean([score(c) for c in picks]) > np.percentile([score(c) for c in pool], 90)


def test_rank_passes_through_before_enough_results():
    rng = np.random.default_rng(1)
    pool = [SPACE.sample(rng) for _ in range(8)]
    history = history_of([SPACE.sample(rng) for _ in range(3)])
    assert SurrogateScreen(min_observations=5).rank(SPACE, history, pool, 4) == pool[:4]


def test_training_set_is_capped_to_the_best_and_the_most_recent():
    rng = np.random.default_rng(2)
    history = history_of([SPACE.sample(rng) for _ in range(50)])
    train = SurrogateScreen(min_observations=5, max_observations=20)._training_set(history)
    assert len(train) == 20
    assert train[:10] == history.ranked()[:10]
    assert set(map(id, train[10:])) <= set(map(id, history.recent(40)))


@pytest.mark.parametrize("kwargs", [
    {"candidates_per_proposal": 0}, {"min_observations": 1.5}, {"max_observations": True}, {"random_per_proposal": -1},
    {"min_observations": 50, "max_observations": 10}, {"exploration": -1.0}, {"exploration": float("nan")},
])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="SurrogateScreen"):
        SurrogateScreen(**kwargs)


def test_searcher_refuses_a_screen_that_is_not_one():
    with pytest.raises(ValueError, match="screen must be True, False or a SurrogateScreen"):
        Searcher(SEKI(budget=10), llm=None, use_llm=False, screen="yes")


def _drive(searcher: Searcher, budget: int) -> History:
    history, knowledge = History(), InMemoryKnowledge()
    while len(history) < budget:
        for p in searcher.next_proposals(SPACE, history, [], knowledge, budget=budget):
            history.add(Observation(p.config, (score(p.config),)))
    return history


def test_searcher_screens_only_once_ready_and_counts_add_up():
    searcher = Searcher(SEKI(budget=40), llm=None, seed=0, use_llm=False, screen=SurrogateScreen(min_observations=10))
    history = _drive(searcher, 40)
    assert len({SPACE.key(o.config) for o in history}) == 40
    pipe = searcher.summary()["pipeline"]
    assert pipe["fallback_proposals"] == searcher.proposals_made == 40  # every one served, none twice
    # 10 results before the first screened batch; then 10 candidates per proposal, plus the batch.
    assert 0 < pipe["screened_candidates"] <= 30 * 11
    assert sum(pipe["fallback_reasons"].values()) == 40
    assert "the surrogate screen preferred the operator's candidate" in pipe["fallback_reasons"]


def test_the_screen_finds_better_architectures_than_the_same_operator_unscreened():
    """Over 8 seeds, at 40 evaluations, on a function a model can learn."""
    def best(screen: bool, seed: int) -> float:
        history = _drive(Searcher(SEKI(budget=40), llm=None, seed=seed, use_llm=False, screen=screen), 40)
        return max(score(o.config) for o in history)

    screened, plain = [best(True, s) for s in range(8)], [best(False, s) for s in range(8)]
    assert np.mean(screened) > np.mean(plain)


class _BrokenScreen(SurrogateScreen):
    def rank(self, space, history, candidates, n):  # type: ignore[override]
        raise RuntimeError("surrogate blew up")


def test_a_failing_screen_costs_nothing(caplog):
    searcher = Searcher(SEKI(budget=25), llm=None, seed=0, use_llm=False, screen=_BrokenScreen())
    history = _drive(searcher, 25)
    assert len({SPACE.key(o.config) for o in history}) == 25
    assert "the surrogate screen failed" in caplog.text
    assert searcher.summary()["pipeline"]["screened_candidates"] == 0


def test_screen_off_is_the_default_and_leaves_the_search_unchanged():
    """``screen=False`` is the default and the same search as not passing it (that the default
    path is unchanged since before the screen existed is checked by test_results_reproduce,
    which replays runs recorded before it)."""
    a = _drive(Searcher(SEKI(budget=30), llm=None, seed=3, use_llm=False), 30)
    b = _drive(Searcher(SEKI(budget=30), llm=None, seed=3, use_llm=False, screen=False), 30)
    assert [SPACE.key(o.config) for o in a] == [SPACE.key(o.config) for o in b]
    assert Searcher(SEKI(budget=30), llm=None).screen is None


@pytest.mark.parametrize("sampler_class", [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler],
                         ids=lambda c: c.__name__)
def test_optuna_samplers_with_the_screen(fake_openai, sampler_class):
    """The fake endpoint answers at random: the screen drops many of its answers, and every
    trial is still a distinct architecture, within the call budget, with counts that add up."""
    sampler = sampler_class(llm=fake_openai.base_url, seed=0, budget=40, screen=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=40)
    assert len(study.trials) == 40 and len({params_key(t) for t in study.trials}) == 40
    summary = sampler.summary()
    pipe = summary["pipeline"]
    assert pipe["screened_candidates"] > 0
    assert 1 <= pipe["llm_calls"] <= 20
    assert min(pipe["accepted_llm"], pipe["accepted_reask"], pipe["fallback_proposals"]) >= 0  # un-counts balance
    served = pipe["accepted_llm"] + pipe["accepted_reask"] + pipe["fallback_proposals"]
    assert served <= summary["proposals"] <= 40  # trial 0 is Optuna's own: the space is learned from it
    assert pipe["screened_out"] >= pipe["screened_out_llm"]
    if sampler_class is LAPTSampler:  # its own evolution proposals (not LLM answers) are dropped, and counted
        assert pipe["screened_out"] > pipe["screened_out_llm"]


def test_seki_sampler_screen_drops_llm_answers_and_counts_exactly(fake_openai):
    """SEKI's proposals are LLM answers or fallbacks only, so the counts must add up exactly."""
    # trust=False: the screen ranks every LLM answer (with the trust rule, a trusted LLM's answers
    # pass unranked, and whether the fake's random answers are trusted is the draws' call)
    sampler = SEKISampler(llm=fake_openai.base_url, seed=1, budget=50, screen=SurrogateScreen(min_observations=5),
                          trust=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=50)
    summary = sampler.summary()
    pipe = summary["pipeline"]
    assert summary["proposals"] == 49  # trial 0 is Optuna's own: the space is learned from it
    assert pipe["accepted_llm"] + pipe["accepted_reask"] + pipe["fallback_proposals"] == 49
    assert pipe["screened_out_llm"] > 0, "random answers lose to the operator's candidates some of the time"


@pytest.mark.parametrize("strategy_class", [SEKIStrategy, GPTEAStrategy], ids=lambda c: c.__name__)
def test_nni_strategies_with_the_screen(fake_openai, strategy_class):
    strategy = strategy_class(seed=0, llm=fake_openai.base_url, budget=30, screen=True)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=30, continue_on_failure=True))
    records = strategy.records()
    assert len(records) == 30 and all(r["state"] == "complete" for r in records)
    check_distinct_and_valid(records)
    assert strategy.summary()["pipeline"]["screened_candidates"] > 0


def test_random_candidates_join_the_pool_when_asked():
    def candidates(screen: SurrogateScreen) -> int:
        searcher = Searcher(SEKI(budget=30), llm=None, seed=0, use_llm=False, screen=screen)
        _drive(searcher, 30)
        return searcher.summary()["pipeline"]["screened_candidates"]

    plain = candidates(SurrogateScreen(candidates_per_proposal=2))
    with_random = candidates(SurrogateScreen(candidates_per_proposal=2, random_per_proposal=3))
    assert with_random > plain


def test_screens_in_several_threads_leave_the_blas_threads_as_they_were():
    """threadpoolctl's limit is process-wide; concurrent screens must not leave it at 1."""
    import threading

    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    rng = np.random.default_rng(4)
    history = history_of([SPACE.sample(rng) for _ in range(40)])
    pools = [[SPACE.sample(np.random.default_rng(s)) for _ in range(60)] for s in range(8)]
    picks: list[list[dict]] = []
    threads = [threading.Thread(target=lambda p=p: picks.append(SurrogateScreen().rank(SPACE, history, p, 5)))
               for p in pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(picks) == 8 and all(len(p) == 5 for p in picks)
    assert blas_threads() == before
