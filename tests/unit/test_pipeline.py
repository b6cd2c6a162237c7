"""The proposal pipeline and SEKI through the public Searcher API, against the fake
OpenAI-compatible endpoint on loopback (deterministic answers and injected faults)."""

from __future__ import annotations

import json

import pytest

from llmnas import (Categorical, History, InMemoryKnowledge, Observation, SearchSpace, Searcher,
                    TrialState)
from llmnas.llm import OpenAIChatLLM
from llmnas.methods import SEKI
from llmnas.provenance import provenance
from llmnas.prompts.tried import TRIED_CHARS
from tests.fake_openai import Answer, Empty, Garbage, Status, Truncated

OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]
SPACE = SearchSpace([Categorical(f"cell/{e}", OPS) for e in ("0_1", "0_2", "1_2", "0_3", "1_3", "2_3")])


def score(config: dict) -> float:
    return sum(OPS.index(v) for v in config.values()) + 0.1 * OPS.index(config["cell/0_1"])


def llm_for(server, **kwargs) -> OpenAIChatLLM:
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("max_retries", 1)
    kwargs.setdefault("backoff_initial", 0.01)
    return OpenAIChatLLM("fake-model", base_url=server.base_url, api_key="sk-test-not-real", **kwargs)


def run(searcher: Searcher, budget: int, space: SearchSpace = SPACE) -> History:
    history, knowledge = History(), InMemoryKnowledge()
    while len(history) < budget:
        [p] = searcher.next_proposals(space, history, [], knowledge)
        history.add(Observation(p.config, (score(p.config),), trial_id=len(history)))
    searcher.knowledge = knowledge  # for the tests' inspection
    return history


def arch(config: dict) -> dict:
    return dict(config)


def test_seki_with_a_working_endpoint_asks_in_batches_and_proposes_distinct_valid_configs(fake_openai):
    searcher = Searcher(SEKI(budget=20), llm=llm_for(fake_openai), seed=0, trust=False)
    history = run(searcher, 20)
    keys = {SPACE.key(o.config) for o in history}
    assert len(keys) == 20 and all(SPACE.contains(o.config) for o in history)
    chat = fake_openai.chat_requests
    assert 1 <= len(chat) <= 10, "at most one LLM call per two architectures"
    summary = searcher.summary()
    assert summary["pipeline"]["llm_calls"] == len(chat)
    assert summary["pipeline"]["accepted_llm"] > 0
    assert summary["llm_usage"]["prompt_tokens"] > 0
    # Both SEKI stages ran: strategies in self-evolution, patterns in inspiration.
    entries = searcher.knowledge.items()
    assert any(k.startswith("seki/strategy/") for k in entries)
    assert any(k.startswith("seki/patterns/") for k in entries)
    # Every proposal request carried the space's schema, no benchmark name in the prompt.
    for request in chat:
        body = request.body
        text = json.dumps(body["messages"]).lower()
        assert "nas-bench" not in text and "nb201" not in text
        assert "conv_3x3" in text


def test_prompts_stay_bounded_as_history_grows(fake_openai):
    searcher = Searcher(SEKI(budget=400, batch_size=5), llm=llm_for(fake_openai), seed=1, trust=False)
    history = History()
    for i in range(300):
        history.add(Observation(SPACE.sample(searcher.rng), (float(i % 17),)))
    searcher.next_proposals(SPACE, history, [], InMemoryKnowledge())
    sizes_300 = [len(json.dumps(r.body["messages"])) for r in fake_openai.chat_requests]
    for i in range(300):
        history.add(Observation(SPACE.sample(searcher.rng), (float(i % 13),)))
    fake_openai.reset()
    searcher.forget_buffer()
    searcher.next_proposals(SPACE, history, [], InMemoryKnowledge())
    sizes_600 = [len(json.dumps(r.body["messages"])) for r in fake_openai.chat_requests]
    # the tried architectures fill at most TRIED_CHARS; the task, space, strategy and per-dimension
    # counts come on top, sized by the space, not by the study
    assert max(sizes_600) < 1.3 * max(sizes_300) and max(sizes_600) < TRIED_CHARS + 6000


@pytest.mark.parametrize("trust", [True, False])
def test_invalid_and_duplicate_answers_are_reasked_once_then_filled_by_the_fallback(fake_openai, trust):
    history = History()
    tried = {k: "none" for k in SPACE.names}
    history.add(Observation(tried, (0.0,)))
    bad = {"architectures": [tried, {**tried, "cell/0_1": "sep_conv_7x7"}, {"cell/0_1": "none"}]}
    # strategy call answered normally, then the generation call and its re-ask both bad.
    fake_openai.script([Answer({"strategy": "use convolutions"}), Answer(bad), Answer(bad)])
    searcher = Searcher(SEKI(budget=20, batch_size=4), llm=llm_for(fake_openai), seed=0,
                        max_calls_per_proposal=1.0, trust=trust)
    proposals = searcher.next_proposals(SPACE, history, [], InMemoryKnowledge(), n=4)
    # under the trust rule, fill-ins in the LLM's slots are stand-ins (neither source's, out of
    # the operator's view); in the papers' loop they are the method's fallback
    assert len(proposals) == 4 and all(p.source == ("stand-in" if trust else "fallback") for p in proposals)
    assert all(provenance(p.source, p.reason) == (str(p.source), "invalid or duplicate LLM proposals") for p in proposals)
    assert len({SPACE.key(p.config) for p in proposals} | {SPACE.key(tried)}) == 5
    stats = searcher.summary()["pipeline"]
    assert stats["reasks"] == 1 and stats["duplicates"] == 2 and stats["invalid"] == 4
    assert stats["stand_in_proposals"] == (4 if trust else 0) and stats["fallback_proposals"] == 4
    assert ("4 stand-ins in the LLM's slots" in searcher.summary_line("test")) == trust
    assert stats["fallback_reasons"] == {"invalid or duplicate LLM proposals": 4}
    # The re-ask told the model what was wrong.
    reask = fake_openai.chat_requests[2].body["messages"][-1]["content"]
    assert "sep_conv_7x7" in reask and "already tried" in reask


@pytest.mark.parametrize("fault", [Garbage("I think conv_3x3 is best!"), Empty(), Status(500), Status(429)])
def test_llm_faults_never_cost_a_proposal(fake_openai, fault):
    fake_openai.script([fault] * 12)
    searcher = Searcher(SEKI(budget=10), llm=llm_for(fake_openai), seed=0)
    history = run(searcher, 10)
    assert len({SPACE.key(o.config) for o in history}) == 10
    stats = searcher.summary()["pipeline"]
    assert stats["fallback_proposals"] >= 5
    assert stats["llm_errors"] + stats["unparsable_answers"] >= 1


def test_truncated_answers_keep_their_complete_proposals(fake_openai):
    fake_openai.script([Answer({"strategy": "s"}), Truncated(0.8)])
    searcher = Searcher(SEKI(budget=20, batch_size=5), llm=llm_for(fake_openai), seed=3,
                        max_calls_per_proposal=0.4)
    proposals = searcher.next_proposals(SPACE, History(), [], InMemoryKnowledge(), n=5)
    stats = searcher.summary()["pipeline"]
    assert stats["truncated_answers"] == 1
    assert 1 <= stats["accepted_llm"] < 5 and len(proposals) == 5


def test_call_budget_is_enforced(fake_openai):
    searcher = Searcher(SEKI(budget=40, batch_size=2), llm=llm_for(fake_openai), seed=0,
                        max_calls_per_proposal=0.25)
    run(searcher, 24)
    calls = len(fake_openai.chat_requests)
    assert calls <= 0.25 * 24 + 1e-9
    assert searcher.summary()["pipeline"]["call_budget_skips"] > 0


def test_failed_configs_are_never_proposed_again(fake_openai):
    history, knowledge = History(), InMemoryKnowledge()
    searcher = Searcher(SEKI(budget=30), llm=llm_for(fake_openai), seed=0)
    failed = set()
    while len(history) < 30:
        [p] = searcher.next_proposals(SPACE, history, [], knowledge)
        key = SPACE.key(p.config)
        assert key not in failed
        if len(history) % 3 == 0:
            failed.add(key)
            history.add(Observation(p.config, None, state=TrialState.FAILED))
        else:
            history.add(Observation(p.config, (score(p.config),)))
    assert len({SPACE.key(o.config) for o in history}) == 30


def test_a_strategy_written_by_another_worker_is_reused(fake_openai):
    knowledge = InMemoryKnowledge({"seki/strategy/0": "prefer conv_3x3 everywhere"})
    searcher = Searcher(SEKI(budget=20), llm=llm_for(fake_openai), seed=0)
    searcher.next_proposals(SPACE, History(), [], knowledge)
    chat = fake_openai.chat_requests
    schemas = [json.dumps(r.body.get("response_format", {})) for r in chat]
    assert chat and not any('"strategy"' in s for s in schemas), "no strategy call: the step's strategy exists"
    assert "prefer conv_3x3 everywhere" in chat[0].body["messages"][-1]["content"]


def test_state_dict_round_trip_keeps_rng_buffer_and_counts(fake_openai):
    searcher = Searcher(SEKI(budget=20), llm=llm_for(fake_openai), seed=5)
    history = History()
    [p] = searcher.next_proposals(SPACE, history, [], InMemoryKnowledge())
    state = json.loads(json.dumps(searcher.state_dict(SPACE)))
    clone = Searcher(SEKI(budget=20), llm=llm_for(fake_openai), seed=99)
    clone.load_state_dict(state, SPACE)
    a = searcher.next_proposals(SPACE, history, [p.config], InMemoryKnowledge(), n=4)
    b = clone.next_proposals(SPACE, history, [p.config], InMemoryKnowledge(), n=4)
    assert [x.config for x in a] == [x.config for x in b]
    assert clone.summary()["pipeline"]["llm_calls"] == searcher.summary()["pipeline"]["llm_calls"]


class ExplodingLLM:
    """A user's own LLM object whose calls raise something other than LLMError."""

    description = "exploding"

    def __init__(self) -> None:
        from llmnas.llm import UsageMeter

        self.usage = UsageMeter()
        self.calls = 0

    def complete(self, messages, **kwargs):
        self.calls += 1
        raise RuntimeError("boom")


def test_a_custom_llm_that_raises_anything_costs_no_proposal():
    llm = ExplodingLLM()
    searcher = Searcher(SEKI(budget=10), llm=llm, seed=0)
    history = run(searcher, 10)
    assert len({SPACE.key(o.config) for o in history}) == 10
    assert llm.calls >= 1 and searcher.summary()["pipeline"]["llm_errors"] == llm.calls


@pytest.mark.parametrize("spec", ["opnai:gpt-4o", "openai:", "local:", "ftp://host/v1", "gpt-4o"])
def test_a_malformed_llm_spec_is_refused_at_construction(spec):
    with pytest.raises(ValueError, match="llm must be one of|empty name"):
        Searcher(SEKI(), llm=spec)


def test_an_llm_that_cannot_be_set_up_degrades_once_with_a_warning(caplog, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    searcher = Searcher(SEKI(budget=10), llm="http://127.0.0.1:9/v1", seed=0)  # nothing listens on port 9
    history = run(searcher, 10)
    assert len({SPACE.key(o.config) for o in history}) == 10
    assert sum("could not be set up" in r.getMessage() for r in caplog.records) == 1
    reasons = searcher.summary()["pipeline"]["fallback_reasons"]
    assert all(r.startswith("LLM unavailable") for r in reasons) and sum(reasons.values()) == 10


def test_a_space_the_host_mostly_rejects_is_not_reported_exhausted():
    from llmnas import Integer

    space = SearchSpace([Integer("x", 0, 9999)])
    feasible = lambda config: [] if config["x"] % 100 == 0 else ["x must be a multiple of 100"]  # noqa: E731
    history, knowledge = History(), InMemoryKnowledge()
    for seed in range(5):
        searcher = Searcher(SEKI(budget=20), seed=seed, use_llm=False)
        [p] = searcher.next_proposals(space, history, [], knowledge, host_validator=feasible)
        assert p.config["x"] % 100 == 0


def test_past_the_planned_budget_the_llm_is_still_asked_in_batches(fake_openai):
    searcher = Searcher(SEKI(budget=10), llm=llm_for(fake_openai), seed=0)
    history, knowledge = History(), InMemoryKnowledge()
    while len(history) < 30:
        [p] = searcher.next_proposals(SPACE, history, [], knowledge, budget=10)
        history.add(Observation(p.config, (score(p.config),)))
    sizes = [r.body["response_format"]["json_schema"]["schema"]["properties"]["architectures"]["maxItems"]
             for r in fake_openai.chat_requests if "architectures" in json.dumps(r.body.get("response_format", {}))]
    assert sizes and min(sizes[-3:]) >= 2, sizes
    assert len(fake_openai.chat_requests) <= 15
