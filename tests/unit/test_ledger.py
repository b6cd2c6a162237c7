"""The core's bookkeeping: one booking method for proposals, sources as an enum, dedup keys
shared with the history instead of rebuilt per call."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace
from llmnas.proposals import SCREEN_REASON, Context, Proposal, Source, TakenKeys, provenance

SPACE = SearchSpace([Categorical("a", [0, 1, 2, 3]), Categorical("b", ["x", "y", "z"])])


class _Counting:
    """Stands in for an LLM: only ``llm_for`` is asked whether there is one."""

    description = "counting"


def _ctx(history: History | None = None, **kwargs) -> Context:
    return Context(space=SPACE, history=history or History(), knowledge=InMemoryKnowledge(), llm=None,
                   rng=np.random.default_rng(0), **kwargs)


def test_source_is_a_str_enum_that_reads_as_before():
    assert Proposal({"a": 0, "b": "x"}, "llm").source is Source.LLM
    assert Source.LLM_REASK == "llm-reask" and f"{Source.FALLBACK}" == "fallback" and str(Source.GA) == "ga"
    assert json.dumps({"source": Source.EVOLUTION}) == '{"source": "evolution"}'
    assert pickle.loads(pickle.dumps(Proposal({"a": 0}, Source.INIT))).source is Source.INIT
    assert Proposal({"a": 0}, "my-operator").source == "my-operator"  # a custom method's own operator
    assert provenance(Source.FALLBACK, SCREEN_REASON) == ("screen", "")
    label, _ = provenance(Source.EVOLUTION)
    assert label == "operator:evolution" and type(label) is str
    assert all(type(x) is str for x in provenance(Source.LLM))


def test_taken_keys_share_the_history_keys_without_copying_them():
    history = History([Observation({"a": 0, "b": "x"}, (1.0,))])
    ctx = _ctx(history, pending=[{"a": 1, "b": "x"}])
    assert isinstance(ctx.taken, TakenKeys) and ctx.taken._base is history.keys(SPACE)
    assert not ctx.is_new({"a": 0, "b": "x"}) and not ctx.is_new({"a": 1, "b": "x"}) and len(ctx.taken) == 2
    ctx.take({"a": 2, "b": "x"})
    assert len(history.keys(SPACE)) == 1, "the context never writes into the history's keys"
    more = ctx.taken | {SPACE.key({"a": 3, "b": "x"})}
    assert len(more) == 4 and len(ctx.taken) == 3 and set(more) >= set(ctx.taken)
    history.add(Observation({"a": 3, "b": "z"}, (0.5,)))  # finished meanwhile: seen at once
    assert not ctx.is_new({"a": 3, "b": "z"}) and len(ctx.taken) == 4
    history.add(Observation({"a": 1, "b": "x"}, (0.5,)))  # a running trial finished: counted once
    assert len(ctx.taken) == 4
    assert not ctx.exhausted()


def test_accept_books_once_and_commit_counts_by_source():
    ctx = _ctx(proposals_so_far=7)
    fallback = ctx.accept(Proposal({"a": 0, "b": "x"}, Source.FALLBACK, "no LLM configured"))
    ctx.accept(Proposal({"a": 1, "b": "x"}, Source.LLM))
    reask = ctx.accept(Proposal({"a": 2, "b": "x"}, Source.LLM_REASK))
    ctx.accept(Proposal({"a": 3, "b": "x"}, Source.GA))
    ctx.accept(Proposal({"a": 3, "b": "y"}, Source.FALLBACK, ""))
    assert ctx.proposals_so_far == 12 and not ctx.is_new(fallback.config)
    assert ctx.stats["accepted_llm"] == 0, "nothing is counted before the batch is final"
    ctx.withdraw(reask)  # e.g. the surrogate screen dropped it
    assert ctx.proposals_so_far == 11 and not ctx.is_new(reask.config)
    with pytest.raises(ValueError):
        ctx.withdraw(reask)
    assert ctx.commit() == 4
    stats = ctx.stats.as_dict()
    assert stats["accepted_llm"] == 1 and stats["accepted_reask"] == 0 and stats["fallback_proposals"] == 2
    assert stats["fallback_reasons"] == {"no LLM configured": 1, "unknown": 1}
    assert ctx.commit() == 0 and ctx.stats["fallback_proposals"] == 2  # each counted once


def test_the_call_budget_counts_a_batch_once_while_it_is_built():
    ctx = _ctx(proposals_so_far=4, max_calls_per_proposal=0.5)
    ctx.llm = _Counting()  # type: ignore[assignment]
    ctx.stats.add("llm_calls", 3)
    assert ctx.may_call_llm(upcoming=4)  # a 4th call: 4 <= 0.5 * (4 made + 4 upcoming)
    for a in range(4):
        ctx.accept(Proposal({"a": a, "b": "z"}, Source.LLM))
    assert ctx.may_call_llm(upcoming=4), "the batch's own accepted proposals are not counted twice"
    ctx.stats.add("llm_calls")
    assert not ctx.may_call_llm(upcoming=4)
    ctx.end_batch()
    assert ctx.may_call_llm(upcoming=4)  # closed: 8 made + 4 upcoming allow a 5th (and 6th) call


def test_top_by_source_counts_what_top_holds() -> None:
    """The per-source places kept on add give the same counts as scanning ``top(k)``, for every
    k, with ties, pruned, failed and infeasible trials (the trust rule reads it every batch)."""
    rng = np.random.default_rng(3)
    for direction in ("maximize", "minimize"):
        history = History(directions=(direction,))
        for i in range(300):
            state = ["complete", "complete", "complete", "pruned", "failed"][int(rng.integers(5))]
            value = None if state == "failed" else (float(rng.integers(20)),)
            history.add(Observation({"x": i}, value, state=state, feasible=bool(rng.random() > 0.1),
                                    source=["llm", "fallback", "operator:ga", ""][int(rng.integers(4))]))
            if i % 37 == 0:
                for k in (1, 5, history.n_usable // 4 + 1, history.n_usable, history.n_usable + 3):
                    naive: dict[str, int] = {}
                    for obs in history.top(k):
                        naive[obs.source] = naive.get(obs.source, 0) + 1
                    assert history.top_by_source(k) == naive
