"""The trust rule between the LLM's answers and the method's operator (``llmnas.trust``): each
source's record comes from the trials' own provenance labels, the draws are seeded by the study,
a losing source gets fewer slots but is never starved, and the searcher calls a useless LLM less."""

from __future__ import annotations

import statistics

import pytest

from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace
from llmnas.methods import SEKI
from llmnas.searcher import Searcher
from llmnas.trust import CALLS_BUDGET_FLOOR, CALLS_KEY, MAX_CALLS_PER_PROPOSAL, Arm, SourceTrust, Turn
from tests.fake_openai import FakeOpenAIServer

SPACE = SearchSpace([Categorical(f"op{i}", ["a", "b", "c", "d", "e"]) for i in range(4)])


def study(llm_ranks: str, n: int = 40) -> History:
    """``n`` trials alternating between the LLM and the operator; ``llm_ranks`` says whose
    trials score higher ("top": the LLM's, "bottom": the operator's)."""
    history = History()
    for i in range(n):
        from_llm = i % 2 == 0
        good = from_llm == (llm_ranks == "top")
        value = 100.0 + i if good else float(i)
        history.add(Observation({"x": i}, (value,), source="llm" if from_llm else "operator:evolution"))
    return history


def test_each_source_is_credited_from_its_provenance_label() -> None:
    history = History()
    labels = ["llm", "llm-reask", "operator:ga", "screen", "fallback", "fixed", "random", ""]
    for value, label in enumerate(labels):
        history.add(Observation({"x": value}, (float(value),), source=label))
    history.add(Observation({"x": 99}, None, state="failed", source="llm"))
    llm, own = SourceTrust().arms(history)
    # 8 usable trials, cuts at the best 2, 4 and 6; "" and "random" (the best two) and "fixed" are nobody's
    assert llm == Arm(wins=0, losses=2)  # the worst two
    assert own.pulls == 3 and own.wins == pytest.approx(2 / 3 + 1 / 3 + 1 / 3)  # fallback, screen, operator:ga
    history.add(Observation({"x": 100}, (1000.0,), source="llm"))
    assert SourceTrust().arms(history)[0] == Arm(wins=1, losses=2)  # the best trial: a whole reward


def test_stand_ins_are_neither_sources_and_stay_out_of_the_operators_view() -> None:
    """What the method made in the LLM's slots that is not the LLM's answer (``stand-in``) is
    credited to neither arm, and the searcher's operator view keeps it out like the LLM's
    architectures (it is admitted the same way, once the LLM is proven and it ranks high)."""
    from llmnas.trust import STAND_INS

    history = History()
    for i in range(12):
        source = "stand-in" if i % 3 == 0 else "llm" if i % 3 == 1 else "operator:evolution"
        history.add(Observation({"x": i}, (float(i),), source=source))
    trust = SourceTrust()
    assert trust.arm_of("stand-in") is None and STAND_INS == {"stand-in"}
    llm, own = trust.arms(history)
    assert llm.pulls == 4 and own.pulls == 4  # the 4 stand-ins count for neither
    searcher = Searcher(SEKI(budget=20), llm="http://127.0.0.1:9/v1", seed=0)
    assert searcher.operator_view is not None
    view = searcher.operator_view.update(history, include_llm=False)
    assert {o.source for o in view} == {"operator:evolution"}


def test_a_trial_is_rewarded_by_its_quantile_in_the_study() -> None:
    """Rewards 1, 2/3, 1/3 and 0 by quarter: an arm of the study's worst trials earns nothing,
    one of middling trials earns some, so the rule tells a misleading source from a mediocre one."""
    history = History()
    for i in range(40):  # ranks: operator best, then a middling LLM, then a misleading one
        source = "operator:ga" if i >= 30 else "llm" if i >= 10 else "llm-reask"
        history.add(Observation({"x": i}, (float(i),), source=source))
    llm, own = SourceTrust().arms(history)
    assert own == Arm(wins=10, losses=0)  # 10 trials in the top quarter
    # the LLM's 30: 10 in the second quarter (2/3 each), 10 in the third (1/3), 10 at the bottom (0)
    assert llm.pulls == 30 and llm.wins == pytest.approx(10 * 2 / 3 + 10 / 3)
    assert str(llm) == "10/30" and str(own) == "10/10"
    assert SourceTrust(quantiles=[0.25]).arms(history)[0] == Arm(wins=0, losses=30)  # top-quarter wins only


def test_an_llm_of_the_studys_worst_trials_gets_fewer_slots_than_with_top_quarter_wins() -> None:
    """The LLM's 4 trials are the study's worst, the operator's 36 the rest: with top-quarter wins
    the operator looks poor too (10 of 36 win), with graded rewards its middling trials count,
    so the misleading LLM is given far fewer slots."""
    history = History()
    for i in range(40):
        history.add(Observation({"x": i}, (float(i),), source="llm" if i < 4 else "operator:ga"))

    def llm_share(trust_of) -> float:
        return statistics.mean(trust_of().allocate(history, seed=s, n=5).llm_slots / 5 for s in range(400))

    graded, top_quarter = llm_share(SourceTrust), llm_share(lambda: SourceTrust(quantiles=[0.25]))
    assert graded < top_quarter / 2 and top_quarter > 0.02


def test_the_llm_gets_the_first_batch_then_the_operator_starts_fresh() -> None:
    trust = SourceTrust()
    first = trust.allocate(History(), seed=3, n=5)
    assert (first.n, first.llm_slots, first.fresh) == (5, 5, False)
    assert trust.allocate(History(), seed=3, n=5).llm_slots == 5  # the LLM made nothing yet (LAPT's warm start)
    trust.started = True  # the searcher saw the LLM's part make its answers (still running)
    second = trust.allocate(History(), seed=3, n=5)
    assert (second.llm_slots, second.fresh) == (0, True) and "operator" in second.reason
    history = History([Observation({"x": i}, (float(i),), source="llm") for i in range(5)])
    assert SourceTrust().allocate(history, seed=3, n=5).fresh  # a restarted worker reads the same


def test_a_losing_llm_gets_few_slots_and_is_never_starved() -> None:
    shares = [SourceTrust().allocate(study("bottom"), seed=seed, n=5).llm_slots / 5 for seed in range(400)]
    assert statistics.mean(shares) < 0.05
    assert sum(share == 0 for share in shares) > 380  # most batches: no call at all
    early = [SourceTrust().allocate(study("bottom", n=12), seed=seed, n=5).llm_slots for seed in range(400)]
    assert 0 < sum(slots > 0 for slots in early) < 100  # after a few losses the LLM keeps a chance


def test_an_llm_not_proven_better_explores_one_slot_per_batch() -> None:
    """An LLM the study cannot tell from the operator (or one a little ahead by luck) is called
    when Thompson's first draw says so, but for one answer: a lucky start buys it exploration,
    not the batch. A proven LLM (its record leads by PROOF_Z standard deviations) gets shares."""
    history = History()
    for i in range(12):  # alternate ranks: both sources' records about even, the LLM's a little ahead
        history.add(Observation({"x": i}, (float(i),), source="llm" if i % 2 else "operator:evolution"))
    turns = [SourceTrust().allocate(history, seed=seed, n=5) for seed in range(400)]
    assert not turns[0].llm_proven and turns[0].llm_trusted  # ahead on the means, not proven
    assert all(t.llm_slots <= 1 and t.n == 5 for t in turns)
    assert 100 < sum(t.calls_llm for t in turns) < 300  # explored about as often as the draws favour it
    proven = [SourceTrust().allocate(study("top", n=12), seed=seed, n=5) for seed in range(400)]
    assert proven[0].llm_proven and statistics.mean(t.llm_slots / t.n for t in proven) > 0.8
    wider = [SourceTrust(unproven_slots=2).allocate(history, seed=seed, n=5).llm_slots for seed in range(400)]
    assert max(wider) == 2 and [min(s, 1) for s in wider] == [t.llm_slots for t in turns]  # the same draws, capped


def test_the_proof_allows_for_being_tested_at_every_batch() -> None:
    """The proof is tested again at every batch, so one lucky look must not prove an LLM no
    better than the operator. After the LLM's first batch and the operator's (5 trials each),
    answers that are the study's 5 best are proven (1 chance in 252 by luck, an expert's first
    batch), but the 3 best with the 5th and the 6th are not (they passed a one-look 95 % bar)."""
    def first_look(llm_places: set[int]) -> Turn:
        history = History()
        for place in range(10):  # place 0 is the study's best
            history.add(Observation({"x": place}, (float(10 - place),),
                                    source="llm" if place in llm_places else "operator:evolution"))
        llm, own = SourceTrust().arms(history)
        return Turn(5, 5, llm, own, "first look")

    assert first_look({0, 1, 2, 3, 4}).llm_proven
    assert first_look({0, 1, 2, 4, 5}).llm_trusted and not first_look({0, 1, 2, 4, 5}).llm_proven
    assert not first_look({0, 1, 2, 3, 7}).llm_proven


def test_a_winning_llm_gets_whole_and_larger_batches() -> None:
    history = study("top")
    turns = [SourceTrust().allocate(history, seed=seed, n=5) for seed in range(400)]
    assert statistics.mean(t.llm_slots / t.n for t in turns) > 0.8
    assert sum(t.n == 15 and t.llm_slots == 15 for t in turns) > 200  # one call, three times the batch


def test_the_llm_is_called_for_at_most_a_quarter_of_the_proposals() -> None:
    """Whatever the draws say, a batch whose calls would take the process's LLM calls past
    MAX_CALLS_PER_PROPOSAL of its proposals is the operator's (expecting as many calls as the
    most one batch made), counting at least CALLS_BUDGET_FLOOR proposals; an LLM not called yet is
    never refused its first batch."""
    history = study("top")  # the draws give the LLM its batches
    trust = SourceTrust()
    assert MAX_CALLS_PER_PROPOSAL == 0.25 and CALLS_BUDGET_FLOOR == 20
    free = [trust.allocate(history, seed=seed, n=5, calls=(0, 40)) for seed in range(50)]
    assert all(t.calls_llm for t in free)  # no call yet: the budget does not bind
    trust.count_calls(2)  # e.g. CoLLM-NAS's Navigator and Generator
    within = [trust.allocate(history, seed=seed, n=5, calls=(9, 40)) for seed in range(50)]
    assert all(t.calls_llm for t in within)  # 9 + 2 calls <= 0.25 x (40 + 5 or 15) proposals
    larger = [trust.allocate(history, seed=seed, n=5, calls=(10, 40)) for seed in range(50)]
    assert all(t.calls_llm == (t.n == 15) for t in larger)  # 10 + 2 > 0.25 x 45, <= 0.25 x 55
    assert any(t.calls_llm for t in larger)
    over = [trust.allocate(history, seed=seed, n=5, calls=(12, 40)) for seed in range(50)]
    assert not any(t.calls_llm for t in over) and all(t.n == 5 for t in over)  # 12 + 2 > 0.25 x 55
    assert "budget" in over[0].reason and trust.turns["own"] >= 50
    refused = trust.calls_refused  # counted, for the summary and its line
    assert refused >= 50 and trust.summary()["calls_budget"] == {"max_calls_per_proposal": 0.25, "refused": refused,
                                                         "study_calls": trust.own_calls}
    assert f"({refused} of them by the calls budget)" in trust.describe()
    early = [trust.allocate(history, seed=seed, n=5, calls=(3, 5)) for seed in range(50)]
    assert all(t.calls_llm for t in early)  # 3 + 2 calls <= 0.25 x 20: the first 20 proposals may take 5
    assert not any(t.calls_llm for t in [trust.allocate(history, seed=seed, n=5, calls=(4, 5)) for seed in range(50)])
    assert [t.n for t in within] == [t.n for t in [SourceTrust().allocate(history, seed=s, n=5) for s in range(50)]]
    trimmed = [trust.allocate(history, seed=seed, n=5, calls=(10, 40), limit=5) for seed in range(50)]
    assert not any(t.calls_llm for t in trimmed)  # the study's budget leaves 5: checked as 5, not 15
    assert [t.n for t in [trust.allocate(history, seed=s, n=5, limit=8) for s in range(50)] if t.calls_llm] \
        and all(t.n <= 8 for t in [trust.allocate(history, seed=s, n=5, limit=8) for s in range(50)])
    assert SourceTrust().state_dict()["batch_calls"] == 1 and trust.state_dict()["batch_calls"] == 2
    restarted = SourceTrust()
    restarted.load_state_dict(trust.state_dict())
    assert restarted.batch_calls == 2 and restarted.calls_refused == trust.calls_refused
    with pytest.raises(ValueError, match="max_calls_per_proposal"):
        SourceTrust(max_calls_per_proposal=0)


def test_the_calls_budget_is_the_studys_every_workers_calls_against_its_trials() -> None:
    """Workers of one study spend one calls budget: each batch's calls are counted in the
    study's knowledge (CALLS_KEY), so a worker that has made no call itself, or one started
    afresh on the study, is refused a batch that would take the study past a quarter call per
    trial, and gets no free first batch once the study has called the LLM."""
    history = study("top")  # 40 trials; the draws give the LLM its batches
    knowledge = InMemoryKnowledge()
    first = SourceTrust()
    for calls in (3, 3, 3, 4):
        first.count_calls(calls, knowledge)  # this worker made 13 calls: the study's count
    assert knowledge.latest(CALLS_KEY)[0] == 13 and first.study_calls == 13 and first.batch_calls == 4
    other = SourceTrust()  # another worker, or a restart: no call of its own
    alone = [other.allocate(history, seed=s, n=5, calls=(0, 40)) for s in range(50)]
    assert all(t.calls_llm for t in alone)  # without the study's record: a free first batch
    shared = [SourceTrust().allocate(history, seed=s, n=5, knowledge=knowledge, calls=(0, 40)) for s in range(50)]
    assert not any(t.calls_llm for t in shared)  # 13 + 1 > 0.25 x (40 + 15): not even a larger batch
    assert all("budget" in t.reason for t in shared)
    second = SourceTrust()
    second.read(knowledge)
    second.count_calls(3, knowledge)
    assert knowledge.latest(CALLS_KEY)[0] == 16 and second.study_calls == 16
    first.read(knowledge)
    assert first.study_calls == 16 and first.summary()["calls_budget"]["study_calls"] == 16
    first.count_calls(0, knowledge)  # a batch that made no call writes nothing
    assert knowledge.latest(CALLS_KEY)[0] == 16
    store, worker = InMemoryKnowledge(), SourceTrust()  # a batch's expected calls count when it is decided
    worker.count_calls(2)  # its most calls in one batch so far (no store: this process's count only)
    turn = worker.allocate(history, seed=0, n=5, knowledge=store, calls=(2, 40))
    assert turn.calls_llm and store.latest(CALLS_KEY)[0] == 2  # reserved before the LLM is asked
    worker.count_calls(3, store)  # it made one more than expected: the excess is counted
    assert store.latest(CALLS_KEY)[0] == 3 and worker.own_calls == worker.study_calls == 5  # 2 + 2 + 1
    assert worker.allocate(history, seed=0, n=5, knowledge=store, calls=(5, 40)).calls_llm
    assert store.latest(CALLS_KEY)[0] == 6  # 3 reserved (the most one batch made)
    worker.count_calls(1, store)  # it made 1: the 2 reserved and unused come off its next reservations
    assert store.latest(CALLS_KEY)[0] == 6 and worker.reserved_unused == 2
    assert worker.allocate(history, seed=0, n=5, knowledge=store, calls=(6, 40)).calls_llm
    assert store.latest(CALLS_KEY)[0] == 7 and worker.reserved_unused == 0  # 3 expected, 2 already counted
    restarted = SourceTrust()
    restarted.load_state_dict(worker.state_dict())
    assert (restarted.study_calls, restarted.own_calls) == (worker.study_calls, worker.own_calls)


def test_a_single_process_decides_alike_with_and_without_the_studys_store() -> None:
    """A process's own reservations never count against it: alone on a study, it decides with
    the store (where its reservations and the calls beyond them go) as without one."""
    history = study("top")
    alone, shared, store = SourceTrust(), SourceTrust(), InMemoryKnowledge()
    calls = 0
    for seed, made in enumerate([2, 1, 3, 0, 2, 1, 1, 2, 3, 1] * 3):
        a = alone.allocate(history, seed=seed, n=5, calls=(calls, 20 + 2 * seed))
        b = shared.allocate(history, seed=seed, n=5, knowledge=store, calls=(calls, 20 + 2 * seed))
        assert a == b, seed
        if a.calls_llm:
            alone.count_calls(made)
            shared.count_calls(made, store)
            calls += made
    assert alone.calls_refused == shared.calls_refused > 0 and calls > 0
    assert calls <= store.latest(CALLS_KEY)[0] <= calls + 3  # the calls made, and one unreconciled reservation at most


def test_the_decision_is_the_studys_not_the_processs() -> None:
    """Two workers (or a restarted study) that see the same trials decide alike."""
    history = study("bottom")
    a, b = SourceTrust(), SourceTrust()
    assert [a.allocate(history, seed=s, n=5) for s in range(20)] == [b.allocate(history, seed=s, n=5) for s in range(20)]
    before = [SourceTrust().allocate(history, seed=s, n=5) for s in range(20)]
    history.add(Observation({"x": -1}, (0.0,), source="llm"))
    after = [SourceTrust().allocate(history, seed=s, n=5) for s in range(20)]
    assert all(a.llm.pulls + 1 == b.llm.pulls for a, b in zip(before, after))  # read afresh from the trials


def test_calls_that_bring_nothing_count_against_the_llm() -> None:
    trust = SourceTrust()
    history = study("top", n=8)
    before = trust.arms(history)[0]
    trust.empty_calls = 6
    after = trust.arms(history)[0]
    assert after.losses == before.losses + 6 and after.wins == before.wins


def test_each_call_of_a_batch_that_brought_nothing_is_a_loss() -> None:
    """CoLLM-NAS's Navigator and Generator (two calls) that bring no new architecture are two
    losses: an LLM that has nothing new to say loses its turns as fast as it spends calls. The
    study's record counts them for every worker."""
    from llmnas.trust import EMPTY_CALLS_KEY

    knowledge = InMemoryKnowledge()
    trust = SourceTrust()
    trust.count_empty_call(knowledge, calls=2)
    assert trust.empty_calls == 2 and knowledge.latest(EMPTY_CALLS_KEY)[0] == 2
    other = SourceTrust()
    other.count_empty_call(knowledge, calls=3)  # another worker's batch of three calls
    assert other.empty_calls == 5 and knowledge.latest(EMPTY_CALLS_KEY)[0] == 5
    trust.read(knowledge)
    assert trust.empty_calls == 5
    assert trust.arms(study("top", n=8))[0].losses == SourceTrust().arms(study("top", n=8))[0].losses + 5


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="quantiles must be a non-empty list of fractions"):
        SourceTrust(quantiles=[0.5, 1.5])
    with pytest.raises(ValueError, match="quantiles must be"):
        SourceTrust(quantiles=[])
    with pytest.raises(ValueError, match="unproven_slots must be an integer >= 1"):
        SourceTrust(unproven_slots=0)
    with pytest.raises(ValueError, match="trust must be True or False"):
        Searcher(SEKI(), trust="yes")  # type: ignore[arg-type]


def _run(searcher: Searcher, evaluations: int, knowledge: InMemoryKnowledge | None = None) -> History:
    history, knowledge = History(), knowledge if knowledge is not None else InMemoryKnowledge()
    while len(history) < evaluations:
        for proposal in searcher.next_proposals(SPACE, history, [], knowledge, budget=evaluations):
            value = sum("abcde".index(v) for v in proposal.config.values())
            history.add(Observation(proposal.config, (float(value),), source=proposal.source.value))
    return history


def test_an_endpoint_that_answers_nonsense_is_called_less_and_less() -> None:
    """Every answer is unusable: after the first batches the LLM is rarely called, and every
    slot is still filled by the operator (no trial is lost)."""
    with FakeOpenAIServer(responder=lambda body, schema, rng: "I am not JSON at all.") as server:
        llm = server.base_url
        trusting = Searcher(SEKI(budget=100), llm=llm, seed=0, llm_retries=0)
        history = _run(trusting, 100)
        calls = trusting.stats["llm_calls"]
        blind = Searcher(SEKI(budget=100), llm=llm, seed=0, llm_retries=0, trust=False)
        _run(blind, 100)
    assert len({SPACE.key(o.config) for o in history}) == len(history) == 100
    assert calls <= 0.5 * blind.stats["llm_calls"]
    summary = trusting.summary()
    assert summary["trust"]["rule"] == "thompson" and summary["trust"]["empty_calls"] >= 1
    sources = summary["trust"]["sources"]  # per label: what it made, what was evaluated, how it ranked
    assert sum(s["evaluated"] for s in sources.values()) >= 90 and "llm" not in sources
    assert sum(s["in_top"] for s in sources.values()) >= 20
    assert "trust (reward: quantile in the study)" in trusting.summary_line("sampler: 100 trials finished")


def test_each_call_of_an_endpoint_that_answers_nonsense_is_one_loss() -> None:
    """CoLLM-NAS calls its Navigator and its Generator per batch: when neither brings a usable
    architecture, both calls are losses, so the record counts every call that brought nothing."""
    from llmnas.methods import CoLLMNAS

    with FakeOpenAIServer(responder=lambda body, schema, rng: "I am not JSON at all.") as server:
        searcher = Searcher(CoLLMNAS(budget=60), llm=server.base_url, seed=0, llm_retries=0)
        _run(searcher, 60)
    assert searcher.trust is not None
    calls = searcher.stats["llm_calls"]
    assert calls >= 2 and searcher.trust.empty_calls == calls  # the first batch: Navigator and Generator


def test_a_restarted_worker_goes_on_with_what_the_rule_knew() -> None:
    """The process-local part of the rule (calls that brought nothing, whether the LLM has
    begun) travels in the searcher's state_dict, so a restart does not hand the LLM a new
    first batch nor forget its empty calls."""
    with FakeOpenAIServer(responder=lambda body, schema, rng: "no JSON") as server:
        first = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, llm_retries=0)
        history = _run(first, 30)
        state = first.state_dict(SPACE)
        again = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, llm_retries=0)
        again.load_state_dict(state, SPACE)
        fresh = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, llm_retries=0)
    assert first.trust is not None and again.trust is not None and fresh.trust is not None
    assert first.trust.empty_calls >= 1 and first.trust.started
    assert again.trust.state_dict() == first.trust.state_dict()
    assert again.trust.allocate(history, seed=0, n=4).reason != "the LLM's first batch"
    assert fresh.trust.allocate(history, seed=0, n=4).reason == "the LLM's first batch"


def test_a_worker_with_only_the_studys_knowledge_counts_every_workers_empty_calls() -> None:
    """As in Optuna, where a restarted or second worker has no state_dict, only the study: the
    empty calls and the LLM's start are in the study's knowledge, so such a worker does not
    hand the LLM a new first batch and counts the calls that brought nothing, every worker's."""
    from llmnas.trust import EMPTY_CALLS_KEY, STARTED_KEY

    knowledge = InMemoryKnowledge()
    with FakeOpenAIServer(responder=lambda body, schema, rng: "no JSON") as server:
        first = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, llm_retries=0)
        history = _run(first, 30, knowledge)
        other = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, llm_retries=0)
    assert first.trust is not None and other.trust is not None
    stored = knowledge.latest(EMPTY_CALLS_KEY)
    assert first.trust.empty_calls >= 1 and stored is not None and stored[0] == first.trust.empty_calls
    assert knowledge.get(STARTED_KEY) is True
    turn = other.trust.allocate(history, seed=0, n=4, knowledge=knowledge)
    assert turn.reason != "the LLM's first batch" and other.trust.empty_calls == first.trust.empty_calls
    assert turn.llm == first.trust.allocate(history, seed=0, n=4).llm  # the same record of the LLM
    other.trust.count_empty_call(knowledge)  # the other worker's empty call is the study's next
    assert knowledge.latest(EMPTY_CALLS_KEY)[0] == first.trust.empty_calls + 1
    first.trust.allocate(history, seed=0, n=4, knowledge=knowledge)
    assert first.trust.empty_calls == other.trust.empty_calls


def test_trust_is_off_without_the_llm_and_credits_lapts_evolution_to_the_llm() -> None:
    from llmnas.methods import LAPT

    assert Searcher(SEKI(), use_llm=False).trust is None and Searcher(SEKI(), trust=False).trust is None
    lapt = Searcher(LAPT(), llm=None).trust
    assert lapt is not None and lapt.arm_of("operator:evolution") == "llm" and lapt.arm_of("fallback") == "own"
    seki = Searcher(SEKI(), llm=None).trust
    assert seki is not None and seki.arm_of("operator:evolution") == "own" and seki.arm_of("fixed") is None


def test_the_screen_lets_a_trusted_llms_answers_through() -> None:
    """An LLM whose architectures rank well keeps them past the surrogate screen; the operator's
    proposals still compete with its candidates."""
    from llmnas.screening import SurrogateScreen

    space = SearchSpace([Categorical(f"op{i}", ["a", "b", "c", "d", "e"]) for i in range(6)])

    def score(config: dict) -> float:  # the LLM knows: "e" everywhere but (at most) one place
        return float(sum("abcde".index(v) for v in config.values()))

    def answer(body: dict, schema: dict | None, rng) -> dict:
        picks = []
        for _ in range(20):
            pick = {name: "e" for name in space.names}
            pick[space.names[rng.randrange(6)]] = "abcde"[rng.randrange(5)]
            picks.append(pick)
        return {"architectures": picks}

    with FakeOpenAIServer(responder=answer) as server:
        searcher = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, screen=SurrogateScreen(min_observations=10))
        history, knowledge = History(), InMemoryKnowledge()
        while len(history) < 60:
            for p in searcher.next_proposals(space, history, [], knowledge, budget=60):
                history.add(Observation(p.config, (score(p.config),), source=p.source.value))
    assert searcher.trust is not None and searcher.trust.last is not None
    pipeline = searcher.summary()["pipeline"]
    assert pipeline["screened_candidates"] > 0  # the screen ran
    llm_trials = [o for o in history if o.source in ("llm", "llm-reask")]
    assert len(llm_trials) >= 15 and pipeline["screened_out_llm"] <= 5  # (only before the LLM was trusted)


def test_the_screen_lets_the_llms_first_batch_through_then_only_a_better_record() -> None:
    """Each arm must be pulled once: with no record the LLM's answers pass the screen (a screen
    that swapped them for its own picks would leave the LLM unjudged, batch after batch)."""
    from llmnas.trust import Turn

    assert Turn(5, 5, Arm(0, 0), Arm(3, 2), "the LLM's first batch").llm_trusted
    assert Turn(5, 2, Arm(4, 1), Arm(2, 3), "Thompson draws").llm_trusted
    assert not Turn(5, 2, Arm(1, 4), Arm(2, 3), "Thompson draws").llm_trusted


def test_a_store_that_fails_costs_no_batch_and_is_not_transferred(tmp_path) -> None:
    """The study's record is best effort: a store that raises leaves the rule with this process's
    count (logged), and a knowledge file given to another study leaves the record behind."""
    from llmnas.trust import EMPTY_CALLS_KEY, STARTED_KEY

    class Broken(InMemoryKnowledge):
        def latest(self, prefix):
            raise OSError("storage down")

        def put(self, key, value):
            raise OSError("storage down")

    trust = SourceTrust()
    trust.count_empty_call(Broken())
    assert trust.empty_calls == 1 and trust.started
    turn = trust.allocate(History([Observation({"x": 0}, (1.0,), source="fallback")]), seed=0, n=4, knowledge=Broken())
    assert turn.llm.losses == 1

    knowledge = InMemoryKnowledge()
    SourceTrust().count_empty_call(knowledge)
    knowledge.put("seki/strategy/0", "widen")
    path = knowledge.export(tmp_path / "k.json")
    other = InMemoryKnowledge()
    other.load(path, transfer=True)
    assert other.get("transfer/seki/strategy/0") == "widen"
    assert not any(k.startswith(("trust/", "transfer/trust/")) for k in other.items())
    assert knowledge.latest(EMPTY_CALLS_KEY) is not None and knowledge.get(STARTED_KEY) is True
