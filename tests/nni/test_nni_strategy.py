"""SEKIStrategy driving NNI's SequentialExecutionEngine (in process, no web manager)."""

from __future__ import annotations

import json

import pytest

from llmnas.llm import OpenAIChatLLM
from llmnas.proposals import OPERATOR_TURN_REASON
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.execution import SequentialExecutionEngine
from nni.nas.space import ModelStatus, SimplifiedModelSpace
from nni_llm_strategies import LLMStrategy, SEKIStrategy

from .spaces import ConstrainedSpace, TinySpace, evaluate, evaluate_or_fail, score_of


def tiny_space(evaluator=evaluate) -> SimplifiedModelSpace:
    return SimplifiedModelSpace.from_model(TinySpace(), FunctionalEvaluator(evaluator))


def sample_key(sample: dict) -> str:
    return json.dumps({k: sorted(v) if isinstance(v, list) else v for k, v in sample.items()}, sort_keys=True)


def check_distinct_and_valid(records: list[dict]) -> None:
    keys = [sample_key(r["config"]) for r in records]
    assert len(set(keys)) == len(keys), "an architecture was evaluated twice"
    space = tiny_space()
    for record in records:
        space.validate(record["config"])  # NNI accepts every submitted sample


def test_seki_runs_exactly_the_engine_budget_with_few_llm_calls(fake_openai):
    budget = 12
    strategy = SEKIStrategy(seed=0, llm=fake_openai.base_url)
    engine = SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True)
    strategy(tiny_space(), engine)

    records = strategy.records()
    assert len(records) == budget == len(list(engine.list_models()))
    assert all(r["state"] == "complete" for r in records)
    check_distinct_and_valid(records)
    for record in records:
        assert record["score"] == score_of(record["config"])
        assert record["metrics"] == {"depth": record["config"]["depth"]}  # extra keys kept
    chat = fake_openai.chat_requests
    assert 1 <= len(chat) <= budget // 2
    summary = strategy.summary()
    assert summary["pipeline"]["llm_calls"] == len(chat)
    assert summary["budget"] == budget and "max_model_count" in summary["budget_source"]
    assert summary["models"] == {"submitted": budget, "complete": budget, "failed": 0, "running": 0}
    assert summary["llm_usage"]["prompt_tokens"] > 0

    best = max(r["score"] for r in records)
    top = list(strategy.list_models(limit=3))
    assert [m.metric for m in top] == sorted((r["score"] for r in records), reverse=True)[:3]
    assert top[0].metric == best == summary["best"]
    assert all(m.status == ModelStatus.Trained for m in top)
    [exported] = strategy.export_top_models(1, formatter="dict")
    assert score_of(exported) == best
    assert len(list(strategy.list_models(sort=False))) == budget


def test_minimize_ranks_the_lowest_score_first():
    strategy = SEKIStrategy(seed=1, use_llm=False, optimize_mode="minimize")
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=6))
    scores = [r["score"] for r in strategy.records()]
    assert [m.metric for m in strategy.list_models()] == sorted(scores)
    assert strategy.summary()["best"] == min(scores)


def test_state_dict_round_trip_continues_without_repeats(fake_openai):
    budget, half = 12, 6
    first = SEKIStrategy(seed=0, llm=fake_openai.base_url, budget=budget)
    first(tiny_space(), SequentialExecutionEngine(max_model_count=half, continue_on_failure=True))
    state = json.loads(json.dumps(first.state_dict()))  # JSON-able
    knowledge = first.knowledge.items()
    assert any(key.startswith("seki/strategy/") for key in knowledge)

    second = SEKIStrategy(seed=0, llm=fake_openai.base_url, budget=budget)
    second.initialize(tiny_space(), SequentialExecutionEngine(max_model_count=half, continue_on_failure=True))
    second.load_state_dict(state)
    assert len(second.history()) == half
    second.run()

    records = second.records()
    assert len(records) == budget and [r["number"] for r in records] == list(range(1, budget + 1))
    assert [r["config"] for r in records[:half]] == [r["config"] for r in first.records()]
    check_distinct_and_valid(records)
    assert all(second.knowledge.get(key) == value for key, value in knowledge.items())
    assert second.summary()["pipeline"]["llm_calls"] == len(fake_openai.chat_requests)
    assert len(fake_openai.chat_requests) <= budget // 2
    # Restored models are listed too, re-frozen with their scores.
    assert max(m.metric for m in second.list_models()) == max(r["score"] for r in records)


def test_failed_models_are_recorded_and_never_proposed_again(fake_openai):
    budget = 15
    strategy = SEKIStrategy(seed=2, llm=fake_openai.base_url)
    engine = SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True)
    strategy(tiny_space(evaluate_or_fail), engine)

    records = strategy.records()
    assert len(records) == budget
    check_distinct_and_valid(records)
    failed = [r for r in records if r["state"] == "failed"]
    assert failed and all(r["config"]["op"] == 2 and r["score"] is None for r in failed)
    assert all(r["state"] == "complete" for r in records if r["config"]["op"] != 2)
    assert strategy.summary()["models"]["failed"] == len(failed)
    assert all(m.metric is not None for m in strategy.list_models())
    assert len(list(strategy.list_models())) == budget - len(failed)


def test_only_architectures_that_nni_accepts_are_submitted(fake_openai):
    """A constraint rejects two thirds of the space; the LLM (random answers) and the
    fallback operator both get filtered by NNI's freeze, and the budget is still met."""
    budget = 12
    strategy = SEKIStrategy(seed=0, llm=fake_openai.base_url)
    model_space = SimplifiedModelSpace.from_model(ConstrainedSpace(), FunctionalEvaluator(evaluate))
    strategy(model_space, SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True))

    records = strategy.records()
    assert len(records) == budget and all(r["state"] == "complete" for r in records)
    check_distinct_and_valid(records)
    assert all(r["config"]["op"] + r["config"]["depth"] <= 2 for r in records)
    assert strategy.summary()["pipeline"]["invalid"] > 0  # LLM answers NNI rejected


def test_unreachable_llm_falls_back_and_still_runs_the_budget(free_port):
    budget = 8
    dead = OpenAIChatLLM("fake-model", base_url=f"http://127.0.0.1:{free_port}/v1", api_key="sk-test-not-real",
                         timeout=0.5, max_retries=0)
    strategy = SEKIStrategy(seed=0, llm=dead)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True))

    records = strategy.records()
    assert len(records) == budget and all(r["state"] == "complete" for r in records)
    check_distinct_and_valid(records)
    # the LLM's slots hold stand-ins (under the trust rule), the rest the operator's fallbacks
    assert {r["source"] for r in records} == {"fallback", "stand-in"}
    pipeline = strategy.summary()["pipeline"]
    assert pipeline["fallback_proposals"] == budget
    assert pipeline["llm_errors"] == pipeline["llm_calls"] >= 1
    # the dead endpoint's batches fall back; after its first failures the trust rule gives the
    # operator most batches without calling it
    reasons = pipeline["fallback_reasons"]
    assert sum(reasons.values()) == budget and reasons["LLM call failed or answer unusable"] >= 1
    assert set(reasons) <= {"LLM call failed or answer unusable", OPERATOR_TURN_REASON}


def test_small_space_is_exhausted_cleanly():
    # 81 architectures, a budget of 100: the strategy stops when every one was tried.
    strategy = SEKIStrategy(seed=0, use_llm=False, batch_size=20)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=100))
    assert len(strategy.records()) == 81 and strategy.summary()["space_exhausted"]
    check_distinct_and_valid(strategy.records())


@pytest.mark.parametrize(
    "kwargs, message",
    [({"optimize_mode": "max"}, "optimize_mode"), ({"budget": 0}, "budget"), ({"budget": 2.5}, "budget")],
)
def test_constructor_checks_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SEKIStrategy(**kwargs)
    from llmnas.methods import SEKI

    with pytest.raises(ValueError, match=message):
        LLMStrategy(SEKI(), **kwargs)
