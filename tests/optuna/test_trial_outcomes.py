"""Pruned and failed trials, and an LLM endpoint that never answers."""

from __future__ import annotations

import socket

import optuna
import pytest
from optuna.trial import TrialState

from llmnas.llm import OpenAIChatLLM
from optuna_llm_samplers import SEKISampler
from tests.fake_openai import FakeOpenAIServer, Status
from tests.optuna.conftest import EDGES, OPS, nas_objective, nas_score, params_key


def _training_objective(trial: optuna.Trial) -> float:
    params = {edge: trial.suggest_categorical(edge, list(OPS)) for edge in EDGES}
    if params[EDGES[0]] == "avg_pool_3x3" or params[EDGES[1]] == "none":
        raise RuntimeError("training diverged")
    score = nas_score(params)
    for epoch in range(4):
        trial.report(score * (epoch + 1) / 4, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return score


@pytest.mark.parametrize(
    "pruner",
    [optuna.pruners.MedianPruner(n_startup_trials=3), optuna.pruners.HyperbandPruner(min_resource=1, max_resource=4)],
    ids=["median", "hyperband"],
)
def test_pruned_and_failed_trials(fake_openai: FakeOpenAIServer, pruner: optuna.pruners.BasePruner) -> None:
    n = 24
    sampler = SEKISampler(seed=0, budget=n, llm=fake_openai.base_url)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.optimize(_training_objective, n_trials=n, catch=(RuntimeError,))

    trials = study.trials
    states = {t.state for t in trials}
    assert len(trials) == n
    assert {TrialState.FAIL, TrialState.PRUNED, TrialState.COMPLETE} <= states
    # Failed (and pruned) configurations are never proposed again.
    assert len({params_key(t) for t in trials}) == n
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    for t in pruned:
        assert t.value == t.intermediate_values[max(t.intermediate_values)]
    assert sampler.summary()["sampler"]["errors"] == 0

    # Failures and early stops reached the method: its prompts show them.
    prompts = [m["content"] for r in fake_openai.chat_requests for m in r.body["messages"]]
    assert any("score failed" in p for p in prompts)
    assert any("(stopped early)" in p for p in prompts)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("failure", ["http-500", "refused", "unresolvable-spec"])
def test_an_endpoint_that_always_fails_costs_no_trial(
    fake_openai: FakeOpenAIServer, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    if failure == "http-500":
        fake_openai.script([Status(500)] * 500)
        llm = OpenAIChatLLM("fake-model", base_url=fake_openai.base_url, timeout=2, max_retries=1,
                            backoff_initial=0.0, backoff_max=0.0)
    elif failure == "refused":
        llm = OpenAIChatLLM("fake-model", base_url=f"http://127.0.0.1:{_dead_port()}/v1", timeout=1, max_retries=0)
    else:  # a URL spec: the model must be listed by the (dead) endpoint
        llm = f"http://127.0.0.1:{_dead_port()}/v1"
    n = 10
    sampler = SEKISampler(seed=0, budget=n, llm=llm)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=n)

    assert len(study.trials) == n
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len({params_key(t) for t in study.trials}) == n
    summary = sampler.summary()
    pipeline, own = summary["pipeline"], summary["sampler"]
    assert pipeline["accepted_llm"] + pipeline["accepted_reask"] == 0
    assert pipeline["fallback_proposals"] + own["host_fallbacks"] >= n - 1
    if failure == "unresolvable-spec":
        # Set up once, failed once: one warning, then the method's own operators, counted.
        assert own["errors"] == 0
        assert sum("could not be set up" in r.getMessage() for r in caplog.records) == 1
        reasons = pipeline["fallback_reasons"]
        assert list(reasons) and all(r.startswith("LLM unavailable (LLMError") for r in reasons)
        assert sum(reasons.values()) == pipeline["fallback_proposals"]
    else:
        assert pipeline["llm_errors"] >= 1
        assert summary["llm_usage"]["errors"] == pipeline["llm_errors"]
    if failure == "http-500":
        assert len(fake_openai.chat_requests) >= 2 * pipeline["llm_calls"]  # each call was retried
