"""SEKISampler on a NAS-like space: LLM-driven, distinct, valid, direction-aware, threaded."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.trial import TrialState

from optuna_llm_samplers import SEKISampler
from optuna_llm_samplers._sampler import CLAIM_KEY
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import EDGES, OPS, chat_text, nas_objective, nas_score, params_key


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_nas_search_is_llm_driven_distinct_and_finds_the_best(fake_openai: FakeOpenAIServer, direction: str) -> None:
    n = 20
    sampler = SEKISampler(seed=0, budget=n, llm=fake_openai.base_url, trust=False)  # the paper's loop
    study = optuna.create_study(direction=direction, sampler=sampler)
    study.optimize(nas_objective, n_trials=n)

    trials = study.trials
    assert len(trials) == n
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({params_key(t) for t in trials}) == n
    assert all(set(t.params) == set(EDGES) and set(t.params.values()) <= set(OPS) for t in trials)

    # One LLM answer fills several trials: at most one call per two trials.
    assert 0 < len(fake_openai.chat_requests) <= n // 2
    summary = sampler.summary()
    assert summary["pipeline"]["llm_calls"] == len(fake_openai.chat_requests)
    assert summary["sampler"]["errors"] == 0
    sources = [t.system_attrs.get(CLAIM_KEY, {}).get("source") for t in trials]
    assert sources[0] is None  # nothing is known before the first trial: sampled at random
    assert sum(s in ("llm", "llm-reask") for s in sources) >= n // 2

    # The LLM saw the space and the study's direction.
    requests = chat_text(fake_openai)
    assert all(edge in requests[0] for edge in EDGES)
    assert all(op in requests[0] for op in OPS)
    wanted = "higher is better" if direction == "maximize" else "lower is better"
    assert all(wanted in text for text in requests)

    values = [t.value for t in trials]
    best = max(values) if direction == "maximize" else min(values)
    assert study.best_trial.value == best
    assert nas_score(study.best_trial.params) == best


@pytest.mark.parametrize("storage_kind", ["memory", "journal"])
def test_threads_share_one_sampler_without_duplicates(
    fake_openai: FakeOpenAIServer, journal: Callable[[], JournalStorage], storage_kind: str
) -> None:
    n = 16
    sampler = SEKISampler(seed=0, budget=n, llm=fake_openai.base_url)
    storage = journal() if storage_kind == "journal" else None
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage)
    study.optimize(nas_objective, n_trials=n, n_jobs=2)

    trials = study.trials
    assert len(trials) == n
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({params_key(t) for t in trials}) == n
    assert len(fake_openai.chat_requests) <= n // 2

    # Picklable (locks dropped), and the copy keeps working on another study.
    copy = pickle.loads(pickle.dumps(sampler))
    assert copy.summary()["pipeline"]["llm_calls"] == sampler.summary()["pipeline"]["llm_calls"]
    other = optuna.create_study(direction="maximize", sampler=copy)
    other.optimize(nas_objective, n_trials=3, n_jobs=2)
    assert [t.state for t in other.trials] == [TrialState.COMPLETE] * 3


def test_multi_objective_and_constraints_reach_the_method(fake_openai: FakeOpenAIServer) -> None:
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        params = {edge: trial.suggest_categorical(edge, list(OPS)) for edge in EDGES}
        convs = sum(op.startswith("conv") for op in params.values())
        trial.set_constraint("flops", convs - 1.0)  # feasible with at most one convolution
        return nas_score(params), float(convs)

    n = 12
    sampler = SEKISampler(seed=1, budget=n, llm=fake_openai.base_url)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=n)

    assert len(study.trials) == n
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len({params_key(t) for t in study.trials}) == n
    requests = chat_text(fake_openai)
    assert any("Pareto" in text for text in requests)
    # Infeasible trials (set_constraint > 0) reach the method marked as such.
    assert any(t.constraints["flops"] > 0 for t in study.trials[:6])
    assert any("violates a constraint" in text for text in requests)
    assert study.best_trials


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="budget"):
        SEKISampler(budget=0)
    with pytest.raises(ValueError, match="log_every"):
        SEKISampler(log_every=-1)
    with pytest.raises(ValueError, match="n_inspiration"):
        SEKISampler(top_k=3, n_inspiration=5)
    with pytest.raises(ValueError, match="seed"):
        SEKISampler(seed=-1)
    assert json.dumps(SEKISampler(seed=0, budget=30).summary()["settings"])
