"""CoLLM-NAS through the public Searcher API, against fake OpenAI-compatible endpoints: the
Navigator and the Generator on their own endpoints, the Navigator's memory, the resource
limit, the target, and knowledge shared between workers."""

from __future__ import annotations

import numpy as np
import pytest

from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace, Searcher
from llmnas.llm import OpenAIChatLLM
from llmnas.methods.collm_nas import KEY, CoLLMNAS
from llmnas.proposals import TargetReached
from tests.fake_openai import FakeOpenAIServer, Status

OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]
NAMES = [f"cell/{e}" for e in ("0_1", "0_2", "1_2", "0_3", "1_3", "2_3")]
SPACE = SearchSpace([Categorical(name, OPS) for name in NAMES])
COST = {"none": 0, "skip_connect": 0, "conv_1x1": 1, "conv_3x3": 3, "avg_pool_3x3": 0}


def score(config: dict) -> float:
    return float(sum(COST[v] for v in config.values()))


def cheap(config: dict) -> bool:
    """The resource limit: at most 4 cost units (a stand-in for FLOPs)."""
    return sum(COST[v] for v in config.values()) <= 4


def llm_for(server: FakeOpenAIServer) -> OpenAIChatLLM:
    return OpenAIChatLLM("fake-model", base_url=server.base_url, api_key="sk-test", timeout=5,
                         max_retries=1, backoff_initial=0.01)


def purpose(request) -> str:
    return request.body["response_format"]["json_schema"]["name"]


def run(searcher: Searcher, budget: int, knowledge=None, history=None) -> tuple[History, InMemoryKnowledge]:
    history = history if history is not None else History()
    knowledge = knowledge if knowledge is not None else InMemoryKnowledge()
    while len(history) < budget:
        [p] = searcher.next_proposals(SPACE, history, [], knowledge)
        history.add(Observation(p.config, (score(p.config),), metrics={"source": p.source}))
    return history, knowledge


@pytest.fixture
def two_servers():
    with FakeOpenAIServer(seed=1) as navigator, FakeOpenAIServer(seed=2) as generator:
        yield navigator, generator


def test_navigator_and_generator_on_their_own_endpoints(two_servers):
    navigator, generator = two_servers
    method = CoLLMNAS(round_size=5, batch_size=5)
    searcher = Searcher(method, seed=0, trust=False, role_llms={"navigator": llm_for(navigator), "generator": llm_for(generator)})
    history, knowledge = run(searcher, 20)
    assert {purpose(r) for r in navigator.chat_requests} == {"navigator"}
    assert {purpose(r) for r in generator.chat_requests} <= {"generator"}
    assert len(navigator.chat_requests) == 4, "one Navigator call per round of 5"
    assert 4 <= len(generator.chat_requests) <= 10  # one per batch, plus re-asks within the call budget
    assert len({SPACE.key(o.config) for o in history}) == 20
    rounds = CoLLMNAS.navigator_log(knowledge)
    assert [r["round"] for r in rounds] == [0, 1, 2, 3] and all(r["source"] == "llm" for r in rounds)
    summary = searcher.summary()
    assert set(summary["role_llms"]) == {"navigator", "generator"}
    assert summary["pipeline"]["llm_calls"] <= 0.5 * 20


def test_one_llm_serves_both_roles(fake_openai):
    searcher = Searcher(CoLLMNAS(), llm=llm_for(fake_openai), seed=0)
    run(searcher, 10)
    assert [purpose(r) for r in fake_openai.chat_requests][:2] == ["navigator", "generator"]
    assert "role_llms" not in searcher.summary()


def test_a_role_that_is_not_the_methods_is_an_error():
    with pytest.raises(ValueError, match="no LLM role"):
        Searcher(CoLLMNAS(), seed=0, role_llms={"critic": "local"})


def test_the_navigator_keeps_its_conversation_and_bounds_it(fake_openai):
    searcher = Searcher(CoLLMNAS(round_size=2, batch_size=2, navigator_memory=2), llm=llm_for(fake_openai), seed=0, trust=False)
    run(searcher, 12)
    calls = [r.body["messages"] for r in fake_openai.chat_requests if purpose(r) == "navigator"]
    assert len(calls) == 6
    assert [sum(m["role"] == "assistant" for m in c) for c in calls] == [0, 1, 2, 3, 3, 3], \
        "the opening exchange plus at most navigator_memory=2 later rounds"
    opening = calls[0][1]["content"]
    assert all(c[1]["content"] == opening for c in calls[1:]), "every conversation starts at the opening"
    assert "Results of the last round" in calls[-1][-1]["content"]


def test_a_stateless_navigator_has_no_memory(fake_openai):
    searcher = Searcher(CoLLMNAS(round_size=2, batch_size=2, navigator_memory=0), llm=llm_for(fake_openai), seed=0)
    run(searcher, 6)
    calls = [r.body["messages"] for r in fake_openai.chat_requests if purpose(r) == "navigator"]
    assert all(len(c) == 2 for c in calls)  # system + one user message, every round


def test_over_limit_architectures_are_never_proposed(fake_openai):
    method = CoLLMNAS(resource_limit=cheap, resource_description="at most 4 cost units")
    searcher = Searcher(method, llm=llm_for(fake_openai), seed=0)
    history, _ = run(searcher, 30)
    assert all(cheap(o.config) for o in history)
    pipeline = searcher.summary()["pipeline"]
    assert pipeline["invalid"] > 0, "the fake endpoint's random answers break the limit sometimes"
    generator_prompt = next(r for r in fake_openai.chat_requests if purpose(r) == "generator").body["messages"][-1]
    assert "at most 4 cost units" in generator_prompt["content"]


def test_a_numeric_resource_limit_follows_optunas_convention():
    method = CoLLMNAS(resource_limit=lambda c: sum(COST[v] for v in c.values()) - 9.0)
    assert method.problems({n: "conv_1x1" for n in NAMES}) == []
    assert method.problems({n: "conv_3x3" for n in NAMES})


def test_a_limit_that_raises_rejects_that_architecture_only():
    def broken(config):
        if config["cell/0_1"] == "none":
            raise KeyError("no table row")
        return True

    history, _ = run(Searcher(CoLLMNAS(resource_limit=broken), seed=0, use_llm=False), 20)
    assert all(o.config["cell/0_1"] != "none" for o in history)


def test_the_target_stops_the_search():
    searcher = Searcher(CoLLMNAS(target=15), seed=0, use_llm=False)
    history = History()
    with pytest.raises(TargetReached, match="target 15 reached"):
        run(searcher, 400, history=history)
    assert history.best().value >= 15
    assert len(history) < SPACE.size()


def test_an_infeasible_best_does_not_reach_the_target():
    method = CoLLMNAS(target=10)
    history = History([Observation({n: "conv_3x3" for n in NAMES}, (18.0,), feasible=False)])
    assert method.stop_reason(history) is None
    history.add(Observation({n: "conv_1x1" for n in NAMES}, (10.0,)))
    assert "reached" in method.stop_reason(history)


def test_minimizing_target():
    method = CoLLMNAS(target=2)
    history = History([Observation({n: "none" for n in NAMES}, (3.0,))], directions=("minimize",))
    assert method.stop_reason(history) is None
    history.add(Observation({n: "skip_connect" for n in NAMES}, (2.0,)))
    assert method.stop_reason(history)


def test_workers_share_the_navigators_rounds(fake_openai):
    knowledge, history = InMemoryKnowledge(), History()
    first = Searcher(CoLLMNAS(), llm=llm_for(fake_openai), seed=0)
    second = Searcher(CoLLMNAS(), llm=llm_for(fake_openai), seed=1)
    first.next_proposals(SPACE, history, [], knowledge, n=5)
    second.next_proposals(SPACE, history, [], knowledge, n=5)  # same round: reuses the strategy
    assert [purpose(r) for r in fake_openai.chat_requests].count("navigator") == 1
    # the round, and the trust rule's record: the study's LLM calls (1 reserved when the batch was
    # decided, then the one beyond it: Navigator and Generator) and the LLM's start
    assert sorted(knowledge.items()) == [f"{KEY}/0", "trust/calls/1", "trust/calls/2", "trust/started"]


def test_the_trust_rules_operator_slots_leave_the_navigators_rounds_to_the_llm(fake_openai):
    """Under the trust rule the operator's slots neither ask the Navigator nor write a round:
    each round in the log is one the LLM's part of a batch asked the Navigator for (the
    operator's view of the study, with fewer trials, numbered its rounds wrongly, and a round
    it wrote first was no longer asked)."""
    searcher = Searcher(CoLLMNAS(), llm=llm_for(fake_openai), seed=0)
    history, knowledge = History(), InMemoryKnowledge()
    while len(history) < 40:
        [p] = searcher.next_proposals(SPACE, history, [], knowledge)
        history.add(Observation(p.config, (score(p.config),), source=str(p.source)))
    rounds = CoLLMNAS.navigator_log(knowledge)
    navigator_calls = [purpose(r) for r in fake_openai.chat_requests].count("navigator")
    assert searcher.trust.turns["shared"] + searcher.trust.turns["own"] >= 3  # batches with the operator's slots
    assert {r["source"] for r in rounds} == {"llm"} and len(rounds) == navigator_calls >= 1
    assert all(r["evaluated"] // 5 == r["round"] for r in rounds)  # numbered by the study's trials (round_size 5)


def test_a_failing_navigator_keeps_the_last_strategy(two_servers):
    navigator, generator = two_servers
    navigator.script([Status(500)] * 50)
    searcher = Searcher(CoLLMNAS(), seed=0, trust=False, role_llms={"navigator": llm_for(navigator), "generator": llm_for(generator)})
    history, knowledge = run(searcher, 10)
    rounds = CoLLMNAS.navigator_log(knowledge)
    assert [r["source"] for r in rounds] == ["kept", "kept"]
    assert rounds[0]["strategy"]["directions"].startswith("Cover every value")
    assert len({SPACE.key(o.config) for o in history}) == 10
    assert searcher.summary()["pipeline"]["llm_errors"] == 2


@pytest.mark.parametrize("bad", [{"target": "high"}, {"target": float("nan")}, {"resource_limit": 5},
                                 {"round_size": 0}, {"navigator_memory": -1}, {"batch_size": 1.5}])
def test_bad_arguments_are_clear_errors(bad):
    with pytest.raises(ValueError):
        CoLLMNAS(**bad)


def test_the_best_within_the_limit_is_found_below_an_over_limit_best():
    method = CoLLMNAS(target=6, resource_limit=lambda c: sum(COST[v] for v in c.values()) <= 6)
    over = {n: "conv_3x3" for n in NAMES}  # 18 units: e.g. an enqueued trial over the limit
    within = dict.fromkeys(NAMES, "none") | {"cell/0_1": "conv_3x3", "cell/0_2": "conv_3x3"}
    history = History([Observation(over, (18.0,)), Observation(within, (6.0,))])
    assert method.best_within_limit(history).config == within
    assert "target 6 reached" in method.stop_reason(history)


@pytest.mark.parametrize("verdict, fits", [(np.int64(5), False), (np.float32(0.5), False), (np.int64(0), True),
                                           (np.float64(-1.0), True), (np.bool_(True), True), (np.bool_(False), False)])
def test_numpy_verdicts_follow_the_same_convention(verdict, fits):
    assert (CoLLMNAS(resource_limit=lambda c: verdict).problems({}) == []) is fits


def test_batches_larger_than_rounds_show_every_result_since_the_last_revision(fake_openai):
    searcher = Searcher(CoLLMNAS(round_size=5, batch_size=15), llm=llm_for(fake_openai), seed=0, trust=False)
    run(searcher, 30)
    calls = [r.body["messages"][-1]["content"] for r in fake_openai.chat_requests if purpose(r) == "navigator"]
    assert len(calls) >= 2
    assert "Results of the last round (15 architectures)" in calls[1]
