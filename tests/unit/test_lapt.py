"""LAPT through the public Searcher API, against the fake OpenAI-compatible endpoint."""

from __future__ import annotations

import doctest
import itertools
import json
import logging

import numpy as np
import pytest

from llmnas import Categorical, History, InMemoryKnowledge, Integer, Observation, SearchSpace, Searcher
from llmnas.llm import OpenAIChatLLM
from llmnas.methods import lapt as lapt_module
from llmnas.methods.lapt import LAPT, inside, normalize_whitelist
from tests.fake_openai import Answer, Status

OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]
EDGES = ("0_1", "0_2", "1_2", "0_3", "1_3", "2_3")
NAMES = [f"cell/{e}" for e in EDGES]
SPACE = SearchSpace([Categorical(name, OPS) for name in NAMES])
WEIGHT = {"none": 0, "skip_connect": 1, "conv_1x1": 2, "conv_3x3": 4, "avg_pool_3x3": 1}


def score(config: dict) -> float:
    return sum(WEIGHT[v] for v in config.values()) + 0.1 * OPS.index(config["cell/0_1"])


def source_pairs(n: int = 120) -> list[tuple[dict, float]]:
    """A 'source task': the same cells scored differently; conv_3x3 on edge 0_1 matters most."""
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(n):
        config = {name: OPS[int(rng.integers(len(OPS)))] for name in NAMES}
        pairs.append((config, score(config) + 20.0 * (config["cell/0_1"] == "conv_3x3")))
    return pairs


def llm_for(server) -> OpenAIChatLLM:
    return OpenAIChatLLM("fake-model", base_url=server.base_url, api_key="sk-test", timeout=5,
                         max_retries=1, backoff_initial=0.01)


def whitelist_answer(whitelist: dict, text: str = "prefer convolutions") -> Answer:
    return Answer({"reasoning": "step by step", "principles": text, "whitelist": whitelist})


def two_each(first: str, second: str) -> dict:
    return {name: [first, second] for name in NAMES}


def run(searcher: Searcher, budget: int, knowledge=None, history=None) -> tuple[History, InMemoryKnowledge]:
    history = history if history is not None else History()
    knowledge = knowledge if knowledge is not None else InMemoryKnowledge()
    while len(history) < budget:
        [p] = searcher.next_proposals(SPACE, history, [], knowledge)
        history.add(Observation(p.config, (score(p.config),), trial_id=len(history), metrics={"source": p.source}))
    return history, knowledge


def assert_distinct_valid(history: History) -> None:
    assert all(SPACE.contains(o.config) for o in history)
    assert len({SPACE.key(o.config) for o in history}) == len(history)


def test_proposals_are_valid_distinct_and_inside_the_whitelist_of_their_step(fake_openai):
    fake_openai.script([
        whitelist_answer(two_each("conv_3x3", "conv_1x1")),
        whitelist_answer(two_each("conv_3x3", "skip_connect")),
        whitelist_answer(two_each("conv_3x3", "avg_pool_3x3")),
        whitelist_answer(two_each("conv_3x3", "none")),
    ])
    searcher = Searcher(LAPT(source=source_pairs()), llm=llm_for(fake_openai), seed=0, trust=False)
    history, knowledge = run(searcher, 20)
    assert_distinct_valid(history)
    for i, obs in enumerate(history):  # batches of 5: proposal i was made at step 5*(i//5)
        principles = knowledge.get(f"lapt/principles/{5 * (i // 5)}")
        assert inside(SPACE, principles["whitelist"], obs.config), (i, obs.config)
        assert obs.metrics["source"] == "evolution"
    # One learning call, then one adaptation at each K=5 boundary.
    assert len(fake_openai.chat_requests) == 4
    assert sorted(int(k.rsplit("/", 1)[1]) for k in knowledge.items()) == [0, 5, 10, 15]
    learn = json.dumps(fake_openai.chat_requests[0].body["messages"])
    assert "source task" in learn and "nas-bench" not in learn.lower()
    assert learn.count("-> score") == 50, "the top-50 source architectures, bounded"
    schema = fake_openai.chat_requests[0].body["response_format"]["json_schema"]["schema"]
    edge = schema["properties"]["whitelist"]["properties"]["cell/0_1"]
    assert edge["maxItems"] == 2 and edge["minItems"] == 1 and edge["items"]["enum"] == OPS
    assert LAPT.principles(knowledge) == knowledge.get("lapt/principles/15")


def test_a_whitelist_that_excludes_what_all_top_source_archs_use_is_repaired(fake_openai, caplog):
    whitelist = two_each("conv_3x3", "conv_1x1")
    whitelist["cell/0_1"] = ["none", "skip_connect"]  # all top-5 source archs use conv_3x3 there
    whitelist["cell/0_2"] = ["sep_conv_7x7"]  # invalid: full dimension
    whitelist["cell/1_2"] = []  # empty: full dimension
    fake_openai.script([whitelist_answer(whitelist)])
    pairs = source_pairs()
    top5 = sorted(pairs, key=lambda p: p[1], reverse=True)[:5]
    assert all(c["cell/0_1"] == "conv_3x3" for c, _ in top5)
    searcher = Searcher(LAPT(source=pairs), llm=llm_for(fake_openai), seed=0)
    knowledge = InMemoryKnowledge()
    with caplog.at_level(logging.WARNING, logger="llmnas.methods.lapt"):
        proposals = searcher.next_proposals(SPACE, History(), [], knowledge)
    learned = LAPT.principles(knowledge)
    assert learned["whitelist"]["cell/0_1"] == ["none", "skip_connect", "conv_3x3"]
    assert learned["whitelist"]["cell/0_2"] == OPS and learned["whitelist"]["cell/1_2"] == OPS
    assert learned["provenance"]["kind"] == "learned"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("repaired cell/0_1" in w and "conv_3x3" in w for w in warnings), warnings
    assert any("cell/0_2" in w and "full dimension" in w for w in warnings), warnings
    assert any("cell/1_2" in w and "full dimension" in w for w in warnings), warnings
    assert all(inside(SPACE, learned["whitelist"], p.config) for p in proposals)


def test_warm_start_without_a_source_uses_the_fallback_then_learns_from_the_study(fake_openai, caplog):
    searcher = Searcher(LAPT(warmup=10), llm=llm_for(fake_openai), seed=0, trust=False)
    with caplog.at_level(logging.INFO, logger="llmnas.methods.lapt"):
        history, knowledge = run(searcher, 10)
    assert len(fake_openai.chat_requests) == 0 and not knowledge.items()
    assert all(o.metrics["source"] == "fallback" for o in history)
    assert any("warm start" in r.getMessage() for r in caplog.records)
    assert searcher.summary()["pipeline"]["fallback_reasons"]
    history, knowledge = run(searcher, 11, knowledge, history)
    assert len(fake_openai.chat_requests) == 1
    learned = knowledge.get("lapt/principles/10")
    assert learned is not None and "warm start" in learned["provenance"]["source"]
    prompt = json.dumps(fake_openai.chat_requests[0].body["messages"])
    assert "warm start" in prompt and SPACE.format_config(history.best().config).replace('"', '\\"') in prompt
    assert history[-1].metrics["source"] == "evolution"
    assert_distinct_valid(history)


def _adaptation_prompt(fake_openai, improve: bool) -> tuple[str, dict]:
    fake_openai.reset()
    given = {"text": "ORIGINAL: convolutions help", "whitelist": two_each("conv_3x3", "conv_1x1")}
    searcher = Searcher(LAPT(source=given), llm=llm_for(fake_openai), seed=0, trust=False)
    knowledge, history = InMemoryKnowledge(), History()
    for config in itertools.islice(itertools.product(OPS, repeat=6), 5):
        history.add(Observation(dict(zip(NAMES, config)), (1.0 + len(history),)))
    searcher.next_proposals(SPACE, history, [], knowledge)  # adaptation at step 5
    for i in range(5):
        config = {name: OPS[(i + j) % 5] for j, name in enumerate(NAMES)}
        history.add(Observation(config, (100.0 if improve and i == 2 else 0.5,)))
    searcher.forget_buffer()
    searcher.next_proposals(SPACE, history, [], knowledge)  # adaptation at step 10
    requests = fake_openai.chat_requests
    assert len(requests) == 2, "the given principles need no learning call; one adaptation per boundary"
    return requests[1].body["messages"][-1]["content"], knowledge.get("lapt/principles/10")


def test_adaptation_updates_when_improved_and_explores_from_the_original_when_stuck(fake_openai):
    improved_prompt, improved = _adaptation_prompt(fake_openai, improve=True)
    stuck_prompt, stuck = _adaptation_prompt(fake_openai, improve=False)
    assert improved_prompt != stuck_prompt
    assert "improved" in improved_prompt and "Update the principles" in improved_prompt
    assert "Original design principles" in stuck_prompt and "ORIGINAL: convolutions help" in stuck_prompt
    assert "suggest other options" in stuck_prompt and "Update the principles" not in stuck_prompt
    assert improved["provenance"]["kind"] == "updated" and stuck["provenance"]["kind"] == "explored"


def test_a_principles_dict_source_needs_no_learning_call(fake_openai):
    given = {"text": "convolutions on every edge", "whitelist": two_each("conv_3x3", "conv_1x1"),
             "provenance": {"source": "a colleague's study"}}
    searcher = Searcher(LAPT(source=given), llm=llm_for(fake_openai), seed=0)
    knowledge = InMemoryKnowledge()
    proposals = searcher.next_proposals(SPACE, History(), [], knowledge, n=5)
    assert len(fake_openai.chat_requests) == 0
    assert len({SPACE.key(p.config) for p in proposals}) == 5
    assert all(set(p.config.values()) <= {"conv_3x3", "conv_1x1"} for p in proposals)
    stored = LAPT.principles(knowledge)
    assert stored["provenance"]["kind"] == "given" and stored["provenance"]["source"] == "a colleague's study"


def test_a_failing_llm_still_yields_valid_distinct_proposals(fake_openai, caplog):
    fake_openai.script([Status(500)] * 60)
    searcher = Searcher(LAPT(source=source_pairs()), llm=llm_for(fake_openai), seed=0, trust=False)
    with caplog.at_level(logging.INFO, logger="llmnas.methods.lapt"):
        history, knowledge = run(searcher, 20)
    assert_distinct_valid(history)
    assert knowledge.get("lapt/principles/0")["provenance"]["kind"] == "default"
    assert knowledge.get("lapt/principles/0")["whitelist"] == {name: OPS for name in NAMES}
    assert all(knowledge.get(f"lapt/principles/{s}")["provenance"]["kind"] == "kept" for s in (5, 10, 15))
    assert searcher.summary()["pipeline"]["llm_errors"] >= 1
    assert any("keeping the current principles" in r.getMessage() for r in caplog.records)


def test_the_refined_space_exhausted_falls_back_to_the_full_space(caplog):
    given = {"text": "t", "whitelist": {name: ["conv_3x3"] for name in NAMES}}
    given["whitelist"]["cell/2_3"] = ["conv_3x3", "skip_connect"]  # two configurations in all
    searcher = Searcher(LAPT(source=given), llm=None, use_llm=False, seed=0)
    with caplog.at_level(logging.WARNING, logger="llmnas.methods.lapt"):
        history, _ = run(searcher, 6)
    assert_distinct_valid(history)
    assert [o.metrics["source"] for o in history] == ["evolution"] * 2 + ["fallback"] * 4
    assert any("exhausted" in r.getMessage() for r in caplog.records)


def test_principles_round_trip_through_knowledge_export_and_load(fake_openai, tmp_path):
    searcher = Searcher(LAPT(source=source_pairs()), llm=llm_for(fake_openai), seed=1)
    history, knowledge = run(searcher, 10)  # schema-driven random answers from the fake server
    assert_distinct_valid(history)
    latest = LAPT.principles(knowledge)
    path = knowledge.export(tmp_path / "knowledge.json", provenance={"study": "source study"})
    loaded = InMemoryKnowledge()
    loaded.load(path)
    assert LAPT.principles(loaded) == latest == json.loads(json.dumps(latest))
    assert LAPT.load_principles(path) == latest
    (tmp_path / "principles.json").write_text(json.dumps(latest))
    fake_openai.reset()
    for source in (path, tmp_path / "principles.json", LAPT.load_principles(path)):
        target = InMemoryKnowledge()
        proposals = Searcher(LAPT(source=source), llm=llm_for(fake_openai), seed=2).next_proposals(
            SPACE, History(), [], target, n=3)
        assert all(inside(SPACE, latest["whitelist"], p.config) for p in proposals)
        assert LAPT.principles(target)["whitelist"] == latest["whitelist"]
        assert LAPT.principles(target)["provenance"]["given_provenance"] == latest["provenance"]
    assert len(fake_openai.chat_requests) == 0


def test_numeric_whitelists_are_sub_ranges_and_get_repaired():
    space = SearchSpace([Integer("depth", 1, 20, step=1), Categorical("op", ["a", "b", "c"])])
    data = History([Observation({"depth": 18, "op": "a"}, (float(i),)) for i in range(5)])
    whitelist, notes = normalize_whitelist(space, {"depth": {"low": 2.4, "high": 8}, "op": ["b", "c", "a"]},
                                           2, data, 5)
    assert whitelist == {"depth": {"low": 3, "high": 18}, "op": ["a", "b", "c"]}
    assert any(n.startswith("repaired depth") for n in notes) and any(n.startswith("repaired op") for n in notes)
    assert any("first 2 of 3" in n for n in notes)


@pytest.mark.parametrize("kwargs, message", [
    ({"population": 0}, "population must be an integer >= 1"),
    ({"tournament_size": 6}, "cannot exceed population"),
    ({"max_options": 0}, "max_options must be"),
    ({"source": []}, "empty list"),
    ({"source": [({"cell/0_1": "none"}, "high")]}, "(config dict, finite score)"),
    ({"source": {"text": "no whitelist"}}, '"whitelist"'),
    ({"source": 42}, "source must be None"),
    ({"source_direction": "up"}, "source_direction"),
])
def test_bad_arguments_say_the_rule(kwargs, message):
    with pytest.raises(ValueError, match=None) as info:
        LAPT(**kwargs)
    assert message in str(info.value)


def test_docstring_example_runs():
    from llmnas.methods.lapt import whitelist

    for module in (lapt_module, whitelist):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_without_principles_that_refine_the_operator_mutates_the_best_of_the_whole_space():
    """``use_llm=False``: no principles are learned, so after the warm start every proposal is
    the operator's, a one-dimension mutation of one of the best 10 found (not the paper's REA of
    the latest five, which is sized for a refined space), labelled as the operator's."""
    searcher = Searcher(LAPT(), llm=None, use_llm=False, seed=0)
    history, knowledge = run(searcher, 30)
    assert_distinct_valid(history)
    assert knowledge.get("lapt/principles/10")["provenance"]["kind"] == "default"
    assert {o.metrics["source"] for o in history} == {"fallback"}
    top = [o.config for o in history.top(10)]
    proposals = searcher.next_proposals(SPACE, history, [], knowledge, n=5)
    assert len(proposals) == 5 and all(p.reason == lapt_module.WHOLE_SPACE_REASON for p in proposals)
    for p in proposals:
        assert min(sum(p.config[k] != parent[k] for k in NAMES) for parent in top) == 1, p.config


def test_a_benchmark_table_source_is_ranked_by_its_own_metric():
    from llmnas.benchmarks import NasBench201Table

    method = LAPT(source=NasBench201Table("cifar10"))
    assert method.source_direction == "maximize" and len(method.source_pairs) == 50
    assert "another dataset" in method.source_description


def test_imported_principles_do_not_stick_to_the_method_object(tmp_path):
    source = InMemoryKnowledge({"lapt/principles/0": {"text": "x", "whitelist": {n: ["conv_3x3"] for n in NAMES}}})
    path = source.export(tmp_path / "k.json")
    method = LAPT(batch_size=2)
    imported = InMemoryKnowledge()
    imported.load(path, transfer=True)
    searcher = Searcher(method, llm=None, use_llm=False, seed=0)
    [p, _] = searcher.next_proposals(SPACE, History(), [], imported, n=2)
    assert p.config["cell/0_1"] == "conv_3x3" or p.source == "fallback"
    assert imported.get("lapt/principles/0")["provenance"]["kind"] == "given"
    assert method.source_kind == "warm-start", "a second study with this object still warm-starts"


def test_the_operators_slots_search_the_whole_space_without_asking_the_llm():
    """The trust rule's slots for the operator: the method's operator over the whole space (as
    with ``use_llm=False``), labelled as the operator's, no principles learned or asked for."""
    from llmnas.proposals import OPERATOR_TURN_REASON, Context

    rng = np.random.default_rng(0)
    history = History([Observation(SPACE.sample(rng), (float(i),)) for i in range(12)])
    knowledge = InMemoryKnowledge()
    ctx = Context(space=SPACE, history=history, knowledge=knowledge, llm=None, rng=rng, operator_turn=True)
    proposals = LAPT(source=source_pairs()).propose(ctx, 5)
    assert len(proposals) == 5 and len({SPACE.key(p.config) for p in proposals}) == 5
    assert all(p.source == "fallback" and p.reason == OPERATOR_TURN_REASON for p in proposals)
    assert LAPT.principles(knowledge) is None  # nothing learned: the LLM was not the one asked


def _schema(request) -> dict:
    return request.body["response_format"]["json_schema"]["schema"]


def test_under_the_trust_rule_the_llm_writes_architectures_with_its_principles(fake_openai):
    """With the trust rule (the default) a learning call also asks for a batch of architectures
    made of whitelisted values [ours]; they seed REA's population (the slots it would fill at
    random while the population is short), as the LLM's answers with the principles' words.
    In the paper's loop (``trust=False``) the schema asks for principles only."""
    written = [{name: "conv_3x3" if i == j else "conv_1x1" for j, name in enumerate(NAMES)} for i in range(5)]
    fake_openai.script([Answer({"reasoning": "r", "principles": "WRITTEN: convolutions",
                                "whitelist": two_each("conv_3x3", "conv_1x1"), "architectures": written})])
    searcher = Searcher(LAPT(source=source_pairs(), adapt_every=5), llm=llm_for(fake_openai), seed=0)
    knowledge, history = InMemoryKnowledge(), History()
    first = searcher.next_proposals(SPACE, history, [], knowledge, n=5)  # the LLM's first batch
    [request] = fake_openai.chat_requests
    assert _schema(request)["properties"]["architectures"]["minItems"] == 5
    assert "architectures" in json.dumps(request.body["messages"][-1]["content"])
    assert len(knowledge.get("lapt/principles/0")["architectures"]) == 5
    assert [p.config for p in first] == written and {p.source for p in first} == {"llm"}
    assert all(p.rationale.startswith("WRITTEN") for p in first)  # the principles' words
    fake_openai.script([Status(500)] * 100)  # the adaptations fail: the principles are kept
    while len(history) < 40:  # (the trust rule reads each trial's source)
        proposals = first or searcher.next_proposals(SPACE, history, [], knowledge)
        first = []
        for p in proposals:
            history.add(Observation(p.config, (score(p.config),), source=str(p.source)))
    kept = [v for k, v in knowledge.items().items() if k.startswith("lapt/principles/") and k != "lapt/principles/0"]
    assert kept and all(v["provenance"]["kind"] == "kept" and "architectures" not in v for v in kept)
    assert_distinct_valid(history)

    fake_openai.reset()
    paper = Searcher(LAPT(source=source_pairs()), llm=llm_for(fake_openai), seed=0, trust=False)
    history, _ = run(paper, 5)
    assert "architectures" not in _schema(fake_openai.chat_requests[0])["properties"]
    assert {o.metrics["source"] for o in history} == {"evolution"}


def test_under_the_trust_rule_the_warm_starts_llm_slots_are_the_llms_architectures(fake_openai):
    """With no source, the warm start's first batch is the LLM's (the trust rule's first batch):
    architectures it writes from what it knows of the task; the operator's batch that follows is
    the warm start's search of the whole space, as with ``use_llm=False``."""
    searcher = Searcher(LAPT(warmup=10), llm=llm_for(fake_openai), seed=0)
    history, knowledge = run(searcher, 10)
    sources = [o.metrics["source"] for o in history]
    assert sources[:5] == ["llm"] * 5 and sources[5:] == ["fallback"] * 5, sources
    assert purpose(fake_openai.chat_requests[0]) == "warm-start_architectures"
    assert LAPT.principles(knowledge) is None  # principles come from the first 10 evaluations
    assert_distinct_valid(history)


def purpose(request) -> str:
    return request.body["response_format"]["json_schema"]["name"]


def test_the_llms_architectures_seed_the_population_that_evolution_then_refines():
    """Under the trust rule the LLM's written architectures take the slots REA would fill at
    random while its population is short; once the population is full REA evolves it (the
    paper's stage B), and the remaining written architectures wait. Outside its whitelist they
    never join the population, so they keep those slots."""
    from llmnas.proposals import Context

    rng = np.random.default_rng(0)
    inside = [dict(zip(NAMES, c)) for c in itertools.islice(itertools.product(["conv_3x3", "conv_1x1"], repeat=6), 12)]
    principles = {"text": "convolutions", "whitelist": two_each("conv_3x3", "conv_1x1"),
                  "architectures": [SPACE.encode(c) for c in inside[5:]]}

    def batch(history: History, principles: dict = principles) -> list:
        ctx = Context(space=SPACE, history=history, knowledge=InMemoryKnowledge(), llm=None, rng=rng, trust_turn=True,
                      llm_arm_sources=LAPT.llm_arm_sources)
        return LAPT(source=principles)._evolve(ctx, 5, principles)

    seeded = batch(History())
    assert [p.source for p in seeded] == ["llm"] * 5 and [p.config for p in seeded] == inside[5:10]
    full = History([Observation(c, (float(i),), source="llm") for i, c in enumerate(inside[:5])])
    evolved = batch(full)  # the population of 5 is full: REA's mutations, none of the waiting ones
    assert len(evolved) == 5 and {p.source for p in evolved} == {"evolution"}
    pools = [{name: op for name in NAMES} for op in ("avg_pool_3x3", "none", "skip_connect")]
    elsewhere = History([Observation(c, (float(i),), source="llm") for i, c in enumerate(pools[:2])])
    outside = {**principles, "architectures": [SPACE.encode(pools[2])]}  # outside its own whitelist
    kept = batch(elsewhere, outside)  # the trials outside the whitelist leave the population empty
    assert kept[0].source == "llm" and kept[0].config == pools[2] and {p.source for p in kept[1:]} == {"evolution"}
