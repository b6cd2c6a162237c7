"""GPT-EA through the public Searcher API: the GA with reconstruction, the LLM prior against
the fake OpenAI-compatible endpoint, and the Transformer prior trained on NAS-Bench-201."""

from __future__ import annotations

import doctest
import json
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace, Searcher
from llmnas.llm import OpenAIChatLLM
from llmnas.methods.gpt_ea import GPTEA, LLMPrior, Prior, TransformerPrior, mask_rate
from llmnas.proposals import Context
from tests.fake_openai import Answer, Status

OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]
SPACE = SearchSpace([Categorical(f"cell/{e}", OPS) for e in ("0_1", "0_2", "1_2", "0_3", "1_3", "2_3")])


def score(config: dict) -> float:
    return sum(OPS.index(v) for v in config.values()) + 0.1 * OPS.index(config["cell/0_1"])


def llm_for(server) -> OpenAIChatLLM:
    return OpenAIChatLLM("fake-model", base_url=server.base_url, api_key="sk-test", timeout=5,
                         max_retries=1, backoff_initial=0.01)


def run(searcher: Searcher, budget: int, space: SearchSpace = SPACE, objective=score):
    history, knowledge, sources = History(), InMemoryKnowledge(), []
    while len(history) < budget:
        [p] = searcher.next_proposals(space, history, [], knowledge)
        sources.append(p.source)
        history.add(Observation(p.config, (objective(p.config),), trial_id=len(history)))
    return history, sources


def distinct_and_valid(history: History, space: SearchSpace = SPACE) -> bool:
    return (len({space.key(o.config) for o in history}) == len(history)
            and all(space.contains(o.config) for o in history))


def fill_schemas(server) -> list[dict]:
    """The per-offspring schemas of every reconstruction request (masked dims only)."""
    out = []
    for request in server.chat_requests:
        fmt = request.body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
        if schema and any(k.startswith("offspring_") for k in schema.get("properties", {})):
            out.append(schema)
    return out


# -- the schedule ---------------------------------------------------------------------------------
def test_mask_rate_decays_linearly_to_zero():
    assert mask_rate(0) == pytest.approx(0.4)
    assert mask_rate(5) == pytest.approx(0.3)
    assert mask_rate(10) == pytest.approx(0.2)
    assert mask_rate(20) == 0.0 and mask_rate(30) == 0.0
    assert mask_rate(2, rate0=1.0, generations=4) == pytest.approx(0.5)
    rates = [GPTEA().mask_rate(t) for t in range(25)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    with pytest.raises(ValueError, match="generations"):
        mask_rate(1, generations=0)


@pytest.mark.parametrize("kwargs, rule", [
    ({"population": 1}, "population must be >= 2"),
    ({"generations": 0}, "generations must be >= 1"),
    ({"crossover_rate": 1.5}, "crossover_rate must be a probability"),
    ({"mutation_rate": -0.1}, "mutation_rate must be a probability"),
    ({"rate0": 2}, "rate0 must be a probability"),
    ({"tournament_size": 0}, "tournament_size must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"population": 3.5}, "population must be an integer"),
    ({"prior": "llm"}, "prior must be"),
])
def test_bad_arguments_name_the_rule(kwargs, rule):
    with pytest.raises(ValueError, match=rule):
        GPTEA(**kwargs)


def test_defaults_are_the_papers():
    s = GPTEA().settings()
    assert GPTEA().population_size() == 30
    assert (s["generations"], s["crossover_rate"], s["mutation_rate"], s["rate0"]) == (20, 0.9, 0.3, 0.4)
    assert s["tournament_size"] == 3 and s["prior"] == "LLM" and GPTEA().budget_hint() == 600
    assert GPTEA(prior=LLMPrior(top_k=8)).settings()["prior_top_k"] == 8
    with pytest.raises(ValueError, match="top_k"):
        LLMPrior(top_k=0)


def test_population_shrinks_for_short_budgets_so_there_are_generations():
    assert GPTEA().population_size(_ctx(0, budget=30)) == 10  # 3 generations of 10
    assert GPTEA().population_size(_ctx(0, budget=9)) == 4
    assert GPTEA().population_size(_ctx(0, budget=100)) == 10  # ten generations, not a third of it random
    assert GPTEA().population_size(_ctx(0, budget=200)) == 10  # the paper's 20 generations
    assert GPTEA().population_size(_ctx(0, budget=600)) == 30  # the paper's 30 × 20
    assert GPTEA(population=12).population_size(_ctx(0, budget=30)) == 12  # given: kept
    assert GPTEA().total_generations(_ctx(0, budget=30)) == 3


def _ctx(n_evaluated: int, seed: int = 0, budget: int | None = None) -> Context:
    rng = np.random.default_rng(seed)
    history = History()
    while len(history) < n_evaluated:
        config = SPACE.sample(rng)
        history.add(Observation(config, (score(config),)))
    return Context(space=SPACE, history=history, knowledge=InMemoryKnowledge(), llm=None, rng=rng, budget=budget)


def test_the_observed_masked_fraction_follows_the_schedule_and_shrinks_late():
    method = GPTEA(population=10, generations=5)
    fractions = {}
    for evaluated in (10, 25, 40, 55):  # generations 1, 2, 4, 5
        ctx = _ctx(evaluated)
        t = method.generation(ctx)
        children = method.offspring(ctx, 600)
        fractions[t] = sum(len(c.masked) for c in children) / (600 * len(SPACE))
        assert fractions[t] == pytest.approx(mask_rate(t, generations=5), abs=0.03)
    assert fractions[1] > fractions[2] > fractions[4] > fractions[5] == 0.0
    # Workers agree: the generation comes from the history alone; a host budget sets T.
    assert GPTEA(population=10).generation(_ctx(25, seed=7)) == 2
    assert GPTEA(population=10).total_generations(_ctx(0, budget=60)) == 6


# -- the LLM prior --------------------------------------------------------------------------------
def test_llm_prior_proposals_are_valid_distinct_and_within_the_call_budget(fake_openai):
    searcher = Searcher(GPTEA(population=10, generations=5), llm=llm_for(fake_openai), seed=0, trust=False)
    history, sources = run(searcher, 60)
    assert distinct_and_valid(history)
    assert sources[:10] == ["init"] * 10  # generation 0: random, no LLM call
    calls = len(fake_openai.chat_requests)
    stats = searcher.summary()["pipeline"]
    assert 1 <= calls <= 60 / 2 and stats["llm_calls"] == calls
    assert stats["accepted_llm"] > 0 and sources.count("llm") == stats["accepted_llm"]
    schemas = fill_schemas(fake_openai)
    assert len(schemas) == calls  # one call per batch of offspring, all of them reconstruction
    for schema in schemas:  # each offspring's answer may hold only its erased dimensions
        for item in schema["properties"].values():
            assert set(item["required"]) == set(item["properties"]) and 1 <= len(item["properties"]) <= 6
    for request in fake_openai.chat_requests:
        text = json.dumps(request.body["messages"]).lower()
        assert "nas-bench" not in text and "nb201" not in text
        assert '"?"' in request.body["messages"][-1]["content"]  # erased dims shown as "?"


def test_kept_dimensions_come_from_the_ga_even_when_the_llm_rewrites_them(fake_openai):
    # Parents never use "none" and nothing mutates, so a "none" can only come from the LLM.
    rng = np.random.default_rng(3)
    history = History()
    while len(history) < 10:
        config = {d.name: OPS[1 + int(rng.integers(4))] for d in SPACE}
        history.add(Observation(config, (score(config),)))
    rewrite_all = {f"offspring_{i}": {name: "none" for name in SPACE.names} for i in range(1, 6)}
    fake_openai.script([Answer(rewrite_all)])
    method = GPTEA(population=10, generations=100, rate0=0.5, mutation_rate=0.0, batch_size=5)
    searcher = Searcher(method, llm=llm_for(fake_openai), seed=0)
    proposals = searcher.next_proposals(SPACE, history, [], InMemoryKnowledge(), n=5)
    [schema] = fill_schemas(fake_openai)
    masked_sets = [set(item["properties"]) for item in schema["properties"].values()]
    assert masked_sets
    llm_made = [p for p in proposals if p.source == "llm"]
    assert llm_made
    for p in proposals:
        nones = {k for k, v in p.config.items() if v == "none"}
        if p.source == "llm":
            assert nones in masked_sets  # exactly the erased dimensions took the LLM's value
        elif p.source == "ga":
            assert not nones
    assert distinct_and_valid(History([Observation(p.config, (0.0,)) for p in proposals]))


def test_a_failing_llm_still_yields_valid_distinct_proposals_with_counted_fallbacks(fake_openai):
    fake_openai.script([Status(500)] * 100)
    searcher = Searcher(GPTEA(population=10, generations=5), llm=llm_for(fake_openai), seed=0, trust=False)
    history, sources = run(searcher, 60)
    assert distinct_and_valid(history)
    stats = searcher.summary()["pipeline"]
    assert stats["llm_errors"] >= 1 and stats["accepted_llm"] == 0 and "llm" not in sources
    assert stats["fallback_proposals"] == sources.count("fallback") > 0
    assert any("LLM" in reason for reason in stats["fallback_reasons"])
    assert stats["llm_calls"] <= 30


def test_without_an_llm_the_default_prior_falls_back_to_random_refills():
    searcher = Searcher(GPTEA(population=10, generations=5), seed=1, use_llm=False)
    history, sources = run(searcher, 40)
    assert distinct_and_valid(history)
    stats = searcher.summary()["pipeline"]
    assert stats["llm_calls"] == 0 and stats["fallback_reasons"].get("no LLM configured", 0) > 0


class _BrokenPrior(Prior):
    name = "broken"

    def fill(self, ctx, partials, masked, *, upcoming=0):
        raise RuntimeError("boom")


def test_a_prior_that_raises_costs_no_proposal():
    searcher = Searcher(GPTEA(population=5, generations=3, prior=_BrokenPrior()), seed=0, use_llm=False)
    history, sources = run(searcher, 25)
    assert distinct_and_valid(history) and "fallback" in sources


def test_a_nearly_exhausted_space_still_gets_new_configurations():
    tiny = SearchSpace([Categorical("a", [0, 1, 2]), Categorical("b", [0, 1])])
    searcher = Searcher(GPTEA(population=2, generations=2), seed=0, use_llm=False)
    history, _ = run(searcher, 6, space=tiny, objective=lambda c: c["a"] + c["b"])
    assert distinct_and_valid(history, tiny)


# -- the Transformer prior on NAS-Bench-201 -------------------------------------------------------
@pytest.fixture(scope="module")
def nb201():
    pytest.importorskip("torch")
    from llmnas.benchmarks import NasBench201Table

    try:
        table = NasBench201Table("cifar10")
    except (FileNotFoundError, OSError) as exc:  # the table is not installed here
        pytest.skip(f"NAS-Bench-201 table unavailable: {exc}")
    values = table.values("valid_acc")
    top = np.argsort(-values)[:200]
    corpus = [table.config_of_index(int(i)) for i in top]
    start = time.perf_counter()
    prior = TransformerPrior.fit(table.space(), corpus, seed=0)
    seconds = time.perf_counter() - start
    return table, corpus, prior, seconds


def _random_partials(space: SearchSpace, n: int, seed: int):
    rng = np.random.default_rng(seed)
    partials, masked = [], []
    for _ in range(n):
        config = space.sample(rng)
        names = [name for name in space.names if rng.random() < 0.5] or [space.names[int(rng.integers(len(space)))]]
        partials.append({k: v for k, v in config.items() if k not in names})
        masked.append(names)
    return partials, masked


def test_transformer_prior_trains_fast_and_fills_like_the_corpus(nb201):
    table, corpus, prior, seconds = nb201
    assert seconds < 20, f"training took {seconds:.1f} s"
    space = table.space()
    partials, masked = _random_partials(space, 400, seed=1)
    ctx = Context(space=space, history=History(), knowledge=InMemoryKnowledge(), llm=None,
                  rng=np.random.default_rng(2))
    fills = prior.fill(ctx, partials, masked)
    assert all(set(f) == set(m) for f, m in zip(fills, masked))
    rng = np.random.default_rng(3)
    prior_acc = np.mean([table.query({**p, **f})["valid_acc"] for p, f in zip(partials, fills)])
    random_acc = np.mean([table.query({**p, **{n: space[n].sample(rng) for n in m}})["valid_acc"]
                          for p, m in zip(partials, masked)])
    assert prior_acc > random_acc + 2.0, (prior_acc, random_acc)


def test_transformer_prior_is_deterministic_for_a_seed(nb201):
    table, corpus, prior, _ = nb201
    again = TransformerPrior.fit(table.space(), corpus, seed=0)
    partials, masked = _random_partials(table.space(), 50, seed=4)

    def fills(p):
        ctx = Context(space=table.space(), history=History(), knowledge=InMemoryKnowledge(), llm=None,
                      rng=np.random.default_rng(5))
        return p.fill(ctx, partials, masked)

    assert fills(prior) == fills(again)
    assert again.settings()["prior_final_loss"] == prior.settings()["prior_final_loss"]


def test_gpt_ea_with_the_transformer_prior_needs_no_llm(nb201):
    table, _, prior, _ = nb201
    space = table.space()
    searcher = Searcher(GPTEA(population=10, generations=5, prior=prior), seed=0, use_llm=False)
    objective = lambda c: table.query(c)["valid_acc"]  # noqa: E731
    history, sources = run(searcher, 60, space=space, objective=objective)
    assert distinct_and_valid(history, space)
    summary = searcher.summary()
    assert summary["llm"] == "off" and summary["pipeline"]["llm_calls"] == 0
    assert sources.count("prior") >= 10
    clone = pickle.loads(pickle.dumps(searcher))  # hosts pickle their searcher
    [p] = clone.next_proposals(space, history, [], InMemoryKnowledge())
    assert space.contains(p.config) and space.key(p.config) not in {space.key(o.config) for o in history}


def test_transformer_prior_rejects_a_corpus_that_does_not_fit():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="corpus"):
        TransformerPrior.fit(SPACE, [{"x": 1}], epochs=1)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TransformerPrior.fit(SPACE, [SPACE.sample(np.random.default_rng(0))], d_model=30, n_heads=4)


# -- hygiene --------------------------------------------------------------------------------------
def test_the_method_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from llmnas.methods.gpt_ea import GPTEA, LLMPrior\n"
            "print(GPTEA().settings()['prior'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "LLM"


def test_docstring_examples_run():
    pytest.importorskip("torch")
    import llmnas.methods.gpt_ea as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_a_study_past_its_budget_keeps_evolving_the_same_population():
    searcher = Searcher(GPTEA(), seed=0, use_llm=False)
    history, knowledge = History(), InMemoryKnowledge()
    sources = []
    for _ in range(36):  # budget 12: population 4; then 24 trials past the plan
        [p] = searcher.next_proposals(SPACE, history, [], knowledge, budget=12)
        sources.append(p.source)
        history.add(Observation(p.config, (score(p.config),)))
    assert sources[:5] == ["init"] * 5  # generation 0 (population 4), drawn as one batch of 5
    assert "init" not in sources[5:], "no restart as random search past the budget"
    assert searcher.method.population_size() == 4


def test_torch_threads_are_restored_when_fits_overlap():
    import threading

    import torch

    from llmnas.methods.gpt_ea import _one_thread

    before = torch.get_num_threads()
    inside, release = threading.Barrier(2), threading.Event()

    def worker():
        with _one_thread():
            inside.wait(timeout=5)
            release.wait(timeout=5)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert torch.get_num_threads() == before


def test_a_corpus_in_other_names_is_one_clear_error_and_a_plain_ga():
    from llmnas.methods.gpt_ea import CorpusPrior

    prior = CorpusPrior([{"op_a": "x", "op_b": "y"}] * 5)
    searcher = Searcher(GPTEA(population=4, prior=prior), seed=0, use_llm=False)
    history, knowledge = History(), InMemoryKnowledge()
    for _ in range(12):
        [p] = searcher.next_proposals(SPACE, history, [], knowledge)
        history.add(Observation(p.config, (score(p.config),)))
    settings = searcher.summary()["settings"]
    assert "does not use the search space's names" in settings["prior_error"]
    assert "op_a" in settings["prior_error"]


# -- trust ------------------------------------------------------------------------------------------
def test_a_trusted_llm_writes_generation_zero_and_the_papers_loop_starts_at_random(fake_openai):
    """With the trust rule (the default) the LLM's first batch of generation 0 is written by the
    LLM prior (every gene erased); with ``trust=False`` generation 0 is random, as in the paper."""
    trusting = Searcher(GPTEA(population=10, generations=5), llm=llm_for(fake_openai), seed=0)
    _, sources = run(trusting, 10)
    assert sources[:5] == ["llm"] * 5  # the first batch: the LLM's, each an architecture it wrote
    assert sources[5:] == ["init"] * 5  # the operator's first batch: random, as without the LLM
    [first] = fill_schemas(fake_openai)[:1]
    assert all(set(node["required"]) == set(SPACE.names) for node in first["properties"].values())
    paper = Searcher(GPTEA(population=10, generations=5), llm=llm_for(fake_openai), seed=0, trust=False)
    assert run(paper, 10)[1] == ["init"] * 10


def _sourced(sources: list[str], seed: int = 0) -> Context:
    """A context whose history holds one random architecture per label in ``sources``."""
    ctx = _ctx(0, seed=seed)
    for source in sources:
        config = SPACE.sample(ctx.rng)
        ctx.history.add(Observation(config, (score(config),), source=source))
    return ctx


def test_the_llms_seeds_do_not_take_the_place_of_the_random_population():
    """Generation 0 ends when the study holds ``population`` architectures that are not the
    LLM's (or twice the population in all): an LLM that seeded half of it with bad
    architectures leaves the GA a whole random population to breed from."""
    method = GPTEA(population=10)
    assert method.generation(_sourced(["llm"] * 5 + ["init"] * 5)) == 0  # the paper's count would say 1
    assert method.generation(_sourced(["llm"] * 5 + ["init"] * 9 + ["fixed"])) == 1  # the host's count too
    assert method.generation(_sourced(["llm"] * 5 + ["init"] * 10)) == 1
    assert method.generation(_sourced(["llm"] * 19 + ["init"])) == 2  # a trusted LLM's seeds: capped
    assert method.generation(_sourced(["init"] * 10)) == 1  # no LLM trial: as in the paper
    assert method.generation(_sourced(["init"] * 10 + ["llm"] * 15)) == 2


def test_after_the_llms_seeds_the_operator_still_draws_a_whole_random_population(fake_openai):
    """End to end with the trust rule and an LLM whose architectures are the worst (a misleading
    LLM): the operator's random architectures in generation 0 number at least ``population``
    (batches of 5 are decided at their start) before the GA's offspring come."""
    searcher = Searcher(GPTEA(population=10, generations=5), llm=llm_for(fake_openai), seed=0)
    history, knowledge, sources = History(), InMemoryKnowledge(), []
    while len(history) < 30:  # as the hosts do, each trial keeps its source
        [p] = searcher.next_proposals(SPACE, history, [], knowledge)
        sources.append(p.source.value)
        value = -1.0 if p.source == "llm" else score(p.config)
        history.add(Observation(p.config, (value,), source=p.source.value))
    assert sources[:5] == ["llm"] * 5
    first_offspring = next(i for i, s in enumerate(sources) if s not in ("llm", "init"))
    assert sources[:first_offspring].count("init") >= 10  # (before: 5, then generation 1 bred)
    assert first_offspring <= 20 and sources[first_offspring:].count("init") == 0
    assert distinct_and_valid(history)
