"""The foundation's acceptance checks: SEKISampler(seed=0) and SEKIStrategy(seed=0) search
NAS-Bench-201 in their hosts against an endpoint given only by environment variables, and
against the embedded model with no variables set: every architecture valid and distinct,
the budget met exactly, the LLM asked in batches."""

from __future__ import annotations

import json

import optuna
import pytest

from llmnas.benchmarks import NasBench201Table
from nni_llm_strategies import SEKIStrategy
from optuna_llm_samplers import SEKISampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def table() -> NasBench201Table:
    return NasBench201Table("cifar10")


def run_optuna(table: NasBench201Table, budget: int) -> tuple[optuna.Study, SEKISampler]:
    sampler = SEKISampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective(), n_trials=budget)
    return study, sampler


def run_nni(table: NasBench201Table, budget: int, workdir) -> SEKIStrategy:
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

    from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space

    strategy = SEKIStrategy(seed=0)
    config = NasExperimentConfig("sequential", "simplified")
    config.max_trial_number = budget
    config.experiment_working_directory = str(workdir)
    evaluator = nas_bench_201_evaluator("cifar10", path=table.file)
    NasExperiment(nas_bench_201_space(), evaluator, strategy, config).run()
    return strategy


def check_optuna(study: optuna.Study, table: NasBench201Table, budget: int) -> None:
    trials = study.trials
    assert len(trials) == budget
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    space = table.space()
    assert all(space.validate(t.params) == [] for t in trials)
    assert len({space.key(t.params) for t in trials}) == budget
    assert study.best_value == max(table.query(t.params)["valid_acc"] for t in trials)


def check_nni(strategy: SEKIStrategy, table: NasBench201Table, budget: int) -> None:
    records = strategy.records()
    assert len(records) == budget
    space = table.space()
    configs = [r["config"] for r in records]
    assert all(space.validate(c) == [] for c in configs)
    assert len({space.key(c) for c in configs}) == budget
    for record, config in zip(records, configs):
        assert record["score"] == pytest.approx(table.query(config)["valid_acc"])


def test_sampler_with_the_environment_endpoint(env_endpoint, table):
    budget = 30
    study, sampler = run_optuna(table, budget)
    check_optuna(study, table, budget)
    chat = env_endpoint.chat_requests
    assert 1 <= len(chat) <= budget / 2, "batched: at most one LLM call per two architectures"
    assert {r.body["model"] for r in chat} == {"served-model"}
    summary = sampler.summary()
    assert env_endpoint.base_url.split("/v1")[0] in summary["llm"]
    assert summary["pipeline"]["accepted_llm"] + summary["pipeline"]["accepted_reask"] >= budget / 2
    assert "sk-integration-secret" not in json.dumps(summary)


def test_strategy_with_the_environment_endpoint(env_endpoint, table, tmp_path):
    budget = 30
    strategy = run_nni(table, budget, tmp_path)
    check_nni(strategy, table, budget)
    chat = env_endpoint.chat_requests
    assert 1 <= len(chat) <= budget / 2
    assert {r.body["model"] for r in chat} == {"served-model"}
    summary = strategy.summary()
    assert summary["pipeline"]["accepted_llm"] + summary["pipeline"]["accepted_reask"] >= budget / 2


@pytest.mark.slow
def test_sampler_with_the_embedded_model(table):
    pytest.importorskip("llama_cpp")
    budget = 12
    study, sampler = run_optuna(table, budget)
    check_optuna(study, table, budget)
    summary = sampler.summary()
    assert summary["llm"].startswith("local:")
    # Optuna does not tell a sampler n_trials: with no budget= the cap holds per proposal,
    # and the last batch (batch_size 5) may be partly unused when the study stops.
    assert 1 <= summary["pipeline"]["llm_calls"] <= summary["proposals"] / 2
    assert summary["proposals"] <= budget + 4
    assert summary["llm_usage"]["completion_tokens"] > 0


@pytest.mark.slow
def test_sampler_with_the_embedded_model_and_a_budget(table):
    pytest.importorskip("llama_cpp")
    budget = 12
    sampler = SEKISampler(seed=0, budget=budget)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective(), n_trials=budget)
    check_optuna(study, table, budget)
    assert 1 <= sampler.summary()["pipeline"]["llm_calls"] <= budget / 2


@pytest.mark.slow
def test_strategy_with_the_embedded_model(table, tmp_path):
    pytest.importorskip("llama_cpp")
    budget = 12
    strategy = run_nni(table, budget, tmp_path)
    check_nni(strategy, table, budget)
    summary = strategy.summary()
    assert summary["llm"].startswith("local:")
    assert 1 <= summary["pipeline"]["llm_calls"] <= budget / 2
    assert summary["llm_usage"]["completion_tokens"] > 0
