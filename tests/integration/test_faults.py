"""LLM faults during a whole study, for every sampler and strategy: rate limits, 5xx, a hanging
endpoint, garbage, truncated, empty and cut-off answers, slow answers. Every trial completes,
none repeats, no LLM call waits longer than its configured timeout allows, each failure and
fallback is counted in the summary, and LLM use resumes once the endpoint recovers."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState

from llmnas.benchmarks import NasBench201Table
from llmnas.llm import OpenAIChatLLM
from nni.nas.execution import SequentialExecutionEngine
from nni.nas.space import RawFormatModelSpace
from nni_llm_strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy, SEKIStrategy
from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.fake_openai import Disconnect, Empty, FakeOpenAIServer, Garbage, Hang, Slow, Status, Truncated

optuna.logging.set_verbosity(optuna.logging.WARNING)

TIMEOUT_S, RETRIES = 1.0, 1
# The worst a call may take: every attempt times out, plus the (tiny) back-off and a margin.
CALL_LIMIT_S = (RETRIES + 1) * TIMEOUT_S + 0.5 + 1.5
FAULTS = [Status(429, retry_after=0.05), Status(503), Hang(seconds=5), Hang(seconds=5), Garbage("no json here"),
          Truncated(0.3), Empty(), Disconnect(), Disconnect(), Slow(0.3)]
BUDGET = 30


def method_kwargs(table: NasBench201Table, name: str) -> dict:
    """Enough LLM calls in 30 evaluations to meet every fault (a failed call uses two requests):
    LAPT learns from a table and adapts every 2 evaluations (batches of 2); GPT-EA
    refills batches of 2."""
    if name.startswith("LAPT"):
        return {"source": table.top_pairs(50), "adapt_every": 2, "batch_size": 2}
    if name.startswith("GPTEA"):
        return {"batch_size": 2}
    return {}


@pytest.fixture(scope="module")
def table() -> NasBench201Table:
    return NasBench201Table("cifar10")


def faulty_llm(server: FakeOpenAIServer) -> OpenAIChatLLM:
    server.script(FAULTS)
    return OpenAIChatLLM("fake-model", base_url=server.base_url, api_key="sk-faults", timeout=TIMEOUT_S,
                         max_retries=RETRIES, backoff_initial=0.01, backoff_max=0.05, retry_after_max=0.1)


def check_summary(summary: dict, server: FakeOpenAIServer) -> None:
    pipeline = summary["pipeline"]
    assert pipeline["llm_errors"] + pipeline["unparsable_answers"] >= 2, pipeline
    assert summary["llm_usage"]["errors"] == pipeline["llm_errors"]
    assert server.pending == 0, "every scripted fault was met"
    assert len(server.chat_requests) > len(FAULTS), "the LLM was used again after the faults"
    assert summary["llm_usage"]["completion_tokens"] > 0, "answers after recovery were read"


@pytest.mark.parametrize("sampler_class", [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler],
                         ids=lambda c: c.__name__)
def test_a_study_survives_llm_faults(table, sampler_class):
    with FakeOpenAIServer(seed=0) as server:
        # trust=False: every batch asks the LLM, so every scripted fault is met (the trust rule
        # would ask a failing endpoint less: tests/unit/test_trust.py)
        sampler = sampler_class(seed=0, budget=BUDGET, llm=faulty_llm(server), trust=False,
                                **method_kwargs(table, sampler_class.__name__))
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(table.optuna_objective(), n_trials=BUDGET)
        summary = sampler.summary()
        check_summary(summary, server)
    trials = study.trials
    assert len(trials) == BUDGET and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == BUDGET
    slowest = max((t.datetime_complete - t.datetime_start).total_seconds() for t in trials)
    assert slowest <= CALL_LIMIT_S * 2, f"a trial waited {slowest:.1f} s for the LLM"  # ≤ 2 calls in one trial
    pipeline = summary["pipeline"]
    assert sum(pipeline["fallback_reasons"].values()) == pipeline["fallback_proposals"]
    if sampler_class is LAPTSampler:  # LAPT's proposals come from its principles or its operator; a failed call keeps the principles
        kinds = [v["provenance"]["kind"] for k, v in sampler.knowledge(study).items().items()
                 if k.startswith("lapt/principles/")]
        assert "kept" in kinds or "default" in kinds
    else:
        assert pipeline["fallback_proposals"] + summary["sampler"]["host_fallbacks"] >= 1


@pytest.mark.parametrize("strategy_class", [SEKIStrategy, LAPTStrategy, CoLLMNASStrategy, GPTEAStrategy],
                         ids=lambda c: c.__name__)
def test_an_nni_search_survives_llm_faults(table, strategy_class):
    with FakeOpenAIServer(seed=0) as server:
        strategy = strategy_class(seed=0, llm=faulty_llm(server), trust=False,  # (as above)
                                  **method_kwargs(table, strategy_class.__name__))
        space = RawFormatModelSpace.from_model(nas_bench_201_space(),
                                               nas_bench_201_evaluator("cifar10", path=table.file))
        strategy(space, SequentialExecutionEngine(max_model_count=BUDGET))
        summary = strategy.summary()
        check_summary(summary, server)
    records = strategy.records()
    assert len(records) == BUDGET and all(r["state"] == "complete" for r in records)
    assert len({json.dumps(r["config"], sort_keys=True) for r in records}) == BUDGET
    if strategy_class is LAPTStrategy:  # LAPT's proposals come from its principles or its operator; a failed call keeps the principles
        kinds = [v["provenance"]["kind"] for k, v in strategy.knowledge.items().items() if k.startswith("lapt/principles/")]
        assert "kept" in kinds or "default" in kinds
    else:
        assert summary["pipeline"]["fallback_proposals"] >= 1
    assert summary["llm_usage"]["seconds"] <= CALL_LIMIT_S * summary["pipeline"]["llm_calls"]
