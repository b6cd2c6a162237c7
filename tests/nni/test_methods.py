"""LAPT, CoLLM-NAS and GPT-EA as NNI strategies on the SequentialExecutionEngine: budget,
validity and what each method adds (target, resource limit, principles, the Transformer
prior, knowledge in state_dict, NNI's extra metrics reaching the method)."""

from __future__ import annotations

import json

import pytest

from llmnas.benchmarks import NasBench201Table
from nni.nas.execution import SequentialExecutionEngine
from nni_llm_strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy

from .test_nni_strategy import check_distinct_and_valid, tiny_space

STRATEGIES = [LAPTStrategy, CoLLMNASStrategy, GPTEAStrategy]


@pytest.mark.parametrize("strategy_class", STRATEGIES, ids=lambda c: c.__name__)
def test_each_strategy_runs_exactly_the_budget(fake_openai, strategy_class):
    budget = 20
    strategy = strategy_class(seed=0, llm=fake_openai.base_url)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True))
    records = strategy.records()
    assert len(records) == budget and all(r["state"] == "complete" for r in records)
    check_distinct_and_valid(records)
    assert 1 <= len(fake_openai.chat_requests) <= budget // 2
    assert strategy.summary()["budget"] == budget


@pytest.mark.parametrize("strategy_class", STRATEGIES, ids=lambda c: c.__name__)
def test_extra_metrics_reported_as_a_dict_reach_the_method(fake_openai, strategy_class):
    strategy = strategy_class(seed=0, llm=fake_openai.base_url)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=6, continue_on_failure=True))
    history = strategy.history()
    assert all(o.metrics == {"depth": o.config["depth"]} for o in history)


def test_collm_nas_stops_submitting_at_the_target(fake_openai):
    strategy = CoLLMNASStrategy(seed=0, llm=fake_openai.base_url, target=0.9)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=81, continue_on_failure=True))
    records = strategy.records()
    assert max(r["score"] for r in records) >= 0.9
    assert len(records) < 81
    check_distinct_and_valid(records)


def test_collm_nas_resource_limit_and_two_endpoints(fake_openai):
    from tests.fake_openai import FakeOpenAIServer

    def shallow(sample: dict) -> bool:
        return sample["depth"] <= 2

    with FakeOpenAIServer(seed=5) as navigator:
        strategy = CoLLMNASStrategy(seed=0, trust=False, navigator_llm=navigator.base_url,
                                    generator_llm=fake_openai.base_url,
                                    resource_limit=shallow, resource_description="at most two blocks")
        strategy(tiny_space(), SequentialExecutionEngine(max_model_count=15, continue_on_failure=True))
        navigator_calls = len(navigator.chat_requests)
    records = strategy.records()
    assert len(records) == 15 and all(shallow(r["config"]) for r in records)
    assert navigator_calls == 3, "one Navigator call per round of five"
    assert all(r.body["response_format"]["json_schema"]["name"] == "generator" for r in fake_openai.chat_requests)
    assert [r["round"] for r in strategy.navigator_log()] == [0, 1, 2]


def test_collm_nas_state_dict_keeps_the_navigators_conversation(fake_openai):
    first = CoLLMNASStrategy(seed=0, llm=fake_openai.base_url, budget=20, trust=False)
    first(tiny_space(), SequentialExecutionEngine(max_model_count=10, continue_on_failure=True))
    state = json.loads(json.dumps(first.state_dict()))
    second = CoLLMNASStrategy(seed=0, llm=fake_openai.base_url, budget=20, trust=False)
    second.initialize(tiny_space(), SequentialExecutionEngine(max_model_count=10, continue_on_failure=True))
    second.load_state_dict(state)
    second.run()
    log = second.navigator_log()
    assert [r["round"] for r in log] == [0, 1, 2, 3]
    assert log[:2] == first.navigator_log()
    navigator_calls = [r for r in fake_openai.chat_requests if r.body["response_format"]["json_schema"]["name"] == "navigator"]
    assert len(navigator_calls) == 4
    assert sum(m["role"] == "assistant" for m in navigator_calls[-1].body["messages"]) == 3, \
        "the resumed Navigator continues its conversation"


def test_lapt_principles_are_kept_in_state_dict_and_exported(fake_openai, tmp_path):
    strategy = LAPTStrategy(seed=0, llm=fake_openai.base_url, warmup=6)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=12, continue_on_failure=True))
    principles = strategy.principles()
    assert principles["provenance"]["source"].startswith("the first 6 evaluations")
    state = json.loads(json.dumps(strategy.state_dict()))
    assert any(k.startswith("lapt/principles/") for k in state["knowledge"])
    path = strategy.export_principles(tmp_path / "p.json", note="tiny task")
    document = json.loads(path.read_text())
    assert document["whitelist"] == principles["whitelist"]
    assert document["provenance"]["exported"]["host"] == "NNI"


def test_gpt_ea_with_a_transformer_prior_in_nni(fake_openai):
    from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space
    from nni.nas.space import RawFormatModelSpace

    table = NasBench201Table("cifar10")
    strategy = GPTEAStrategy(seed=0, llm=fake_openai.base_url, prior="transformer", corpus=table.top_pairs(100))
    space = RawFormatModelSpace.from_model(nas_bench_201_space(), nas_bench_201_evaluator("cifar10", path=table.file))
    strategy(space, SequentialExecutionEngine(max_model_count=16))
    records = strategy.records()
    assert len(records) == 16 and len({json.dumps(r["config"], sort_keys=True) for r in records}) == 16
    assert "prior" in {r["source"] for r in records}
    assert fake_openai.chat_requests == []
