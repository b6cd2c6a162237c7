"""Workers on one storage: shared knowledge (first writer wins) and claim-then-check dedup.

Separate ``JournalStorage`` objects on one file behave like separate processes: each replays
the journal into its own memory.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from optuna_llm_samplers import SEKISampler, StudyKnowledge
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import EDGES, OPS, nas_objective, params_key


def test_two_samplers_share_knowledge_through_the_study(
    fake_openai: FakeOpenAIServer, journal: Callable[[], JournalStorage]
) -> None:
    first = SEKISampler(seed=0, budget=20, llm=fake_openai.base_url, trust=False)  # every batch asks the LLM
    study_a = optuna.create_study(study_name="nas", storage=journal(), direction="maximize", sampler=first)
    study_a.optimize(nas_objective, n_trials=6)
    written = first.knowledge(study_a).items()
    strategies = {k: v for k, v in written.items() if k.startswith("seki/strategy/")}
    assert strategies, "SEKI wrote no strategy into the study"
    latest_text = written[max(strategies, key=lambda k: int(k.rsplit("/", 1)[1]))]

    # A second worker (its own storage handle and sampler) sees the same knowledge ...
    n_before = len(fake_openai.chat_requests)
    second = SEKISampler(seed=1, budget=20, llm=fake_openai.base_url, trust=False)
    study_b = optuna.load_study(study_name="nas", storage=journal(), sampler=second)
    assert second.knowledge(study_b).items() == written
    # ... cannot overwrite it (first writer wins) ...
    key = next(iter(strategies))
    assert StudyKnowledge.of(study_b).put(key, "something else entirely") == strategies[key]
    # ... and builds on it: its first strategy call shows the first worker's strategy.
    study_b.optimize(nas_objective, n_trials=6)
    first_call = fake_openai.chat_requests[n_before].body["messages"][-1]["content"]
    assert f"Your previous strategy:\n{latest_text}" in first_call
    assert len(study_b.trials) == 12
    assert len({params_key(t) for t in study_b.trials}) == 12


def test_first_writer_wins_across_storage_handles(journal: Callable[[], JournalStorage]) -> None:
    optuna.create_study(study_name="k", storage=journal())
    stores = [StudyKnowledge.of(optuna.load_study(study_name="k", storage=journal())) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list[object] = [None] * len(stores)

    def write(i: int) -> None:
        barrier.wait()
        results[i] = stores[i].put("lapt/principles/0", {"writer": i})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winner = stores[0].get("lapt/principles/0")
    assert winner is not None
    assert all(store.get("lapt/principles/0") == winner for store in stores)
    # Every writer that saw another's write returned the winner; a value is never lost.
    assert winner in results



def test_reads_of_some_keys_agree_with_the_whole_store() -> None:
    """``get`` and ``latest`` parse only the attributes under their key or prefix; they must
    answer what the whole store's winners say, whatever other keys share the prefix."""
    from llmnas.knowledge import KnowledgeStore

    study = optuna.create_study()
    knowledge = StudyKnowledge.of(study)
    for key, value in [("trust/calls/1", "a"), ("trust/calls/10", "b"), ("trust/calls/9", "c"),
                       ("trust/calls/x", "d"), ("trust/calls/2/3", "e"), ("trust/callsx/50", "f"),
                       ("trust/calls", "g"), ("a@b/4", "h"), ("a/4", "i"), ("7", "j"), ("seki/strategy/1", "k"),
                       ("trust/calls/\u00b2", "l")]:  # a digit that is not a number: never the latest
        knowledge.put(key, value)
    study._storage.set_study_system_attr(study._study_id, "llmnas:knowledge:trust/calls/10@" + "9" * 20, "late")
    for prefix in ["trust/calls", "trust/calls/", "trust/callsx", "a@b", "a", "trust/calls/2", "seki/strategy", "", "none"]:
        assert knowledge.latest(prefix) == KnowledgeStore.latest(knowledge, prefix), prefix
    assert knowledge.latest("trust/calls") == (10, "b")  # the first write of key 10, not the later one
    assert knowledge.latest("") == (7, "j")
    everything = knowledge.items()
    for key in [*everything, "trust/call", "trust/calls/1@", "a@"]:
        assert knowledge.get(key) == everything.get(key), key

def test_knowledge_exports_and_seeds_another_study(tmp_path: Path) -> None:
    source = optuna.create_study()
    StudyKnowledge.of(source).put("seki/strategy/3", "prefer 3x3 convolutions early")
    path = StudyKnowledge.of(source).export(tmp_path / "k.json", provenance={"study": "source"})
    target = optuna.create_study()
    assert StudyKnowledge.of(target).load(path) == {"study": "source"}
    assert StudyKnowledge.of(target).items() == {"seki/strategy/3": "prefer 3x3 convolutions early"}


def _same_answer_for_everyone(body: dict[str, Any], schema: dict[str, Any] | None, rng: Any) -> Any:
    """A slow model that answers every worker alike: the race claim-then-check must win."""
    time.sleep(0.1)
    properties = (schema or {}).get("properties", {})
    if "strategy" in properties:
        return {"strategy": "use 3x3 convolutions on every edge"}
    architectures = [{edge: OPS[(k + i) % len(OPS)] for i, edge in enumerate(EDGES)} for k in range(5)]
    answer: dict[str, Any] = {"architectures": architectures}
    if "patterns" in properties:
        answer["patterns"] = "convolutions"
    return answer


def test_workers_with_identical_proposals_never_evaluate_one_twice(journal: Callable[[], JournalStorage]) -> None:
    setup = optuna.create_study(study_name="dedup", storage=journal(), direction="maximize")
    setup.enqueue_trial({edge: "conv_3x3" for edge in EDGES})
    setup.optimize(nas_objective, n_trials=1)

    with FakeOpenAIServer(responder=_same_answer_for_everyone) as server:
        # Same seed and same LLM answers: both workers propose the very same configurations
        # at the same moment, so only claim-then-check keeps them apart.
        samplers = [SEKISampler(seed=7, budget=30, llm=server.base_url) for _ in range(2)]
        barrier = threading.Barrier(2)

        def work(sampler: SEKISampler) -> None:
            study = optuna.load_study(study_name="dedup", storage=journal(), sampler=sampler)
            barrier.wait()
            study.optimize(nas_objective, n_trials=8)

        threads = [threading.Thread(target=work, args=(s,)) for s in samplers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    trials = optuna.load_study(study_name="dedup", storage=journal()).trials
    assert len(trials) == 17
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({params_key(t) for t in trials}) == 17
    assert sum(s.summary()["sampler"]["claim_clashes"] for s in samplers) >= 1


def _process_worker(path: str, sampler: SEKISampler, n_trials: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(path))
    study = optuna.load_study(study_name="mp", storage=storage, sampler=sampler)
    study.optimize(nas_objective, n_trials=n_trials)


def test_worker_processes_share_one_study(journal_path: Path, journal: Callable[[], JournalStorage]) -> None:
    setup = optuna.create_study(study_name="mp", storage=journal(), direction="maximize")
    setup.enqueue_trial({edge: "conv_3x3" for edge in EDGES})
    setup.optimize(nas_objective, n_trials=1)
    context = multiprocessing.get_context("spawn")
    # The sampler travels to each process pickled; the same seed makes both propose alike.
    workers = [
        context.Process(target=_process_worker, args=(str(journal_path), SEKISampler(seed=3, budget=20, use_llm=False), 8))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]
    trials = optuna.load_study(study_name="mp", storage=journal()).trials
    assert len(trials) == 17
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({params_key(t) for t in trials}) == 17


def test_a_restarted_worker_goes_on_with_the_studys_trust_record(
    journal: Callable[[], JournalStorage], caplog: pytest.LogCaptureFixture
) -> None:
    """An endpoint that answers nonsense: the calls that brought nothing are the study's (its
    storage), so a worker started afresh on the study (a restart, another machine) neither gives
    the LLM a new first batch nor forgets those calls."""
    from llmnas.trust import EMPTY_CALLS_KEY

    with FakeOpenAIServer(responder=lambda body, schema, rng: "not JSON") as server:
        first = SEKISampler(seed=0, budget=40, llm=server.base_url, llm_retries=0)
        study = optuna.create_study(study_name="nas", storage=journal(), direction="maximize", sampler=first)
        study.optimize(nas_objective, n_trials=20)
        counted = first._searcher.trust.empty_calls
        stored = StudyKnowledge.of(study).latest(EMPTY_CALLS_KEY)
        assert counted >= 1 and stored is not None and stored[0] == counted

        second = SEKISampler(seed=0, budget=40, llm=server.base_url, llm_retries=0)
        again = optuna.load_study(study_name="nas", storage=journal(), sampler=second)
        with caplog.at_level(logging.INFO, logger="llmnas.searcher"):
            again.optimize(nas_objective, n_trials=20)
    decisions = [r.getMessage() for r in caplog.records if "trust:" in r.getMessage()]
    assert decisions, "the restarted worker decided no batch"
    assert "the LLM's first batch" not in decisions[0], decisions[0]
    assert f"LLM 0/{counted}," in decisions[0], decisions[0]  # the study's empty calls, not this process's
    trust = second._searcher.trust
    assert trust.empty_calls >= counted
    assert StudyKnowledge.of(again).latest(EMPTY_CALLS_KEY)[0] == trust.empty_calls
    assert len(again.trials) == 40 and all(t.state == TrialState.COMPLETE for t in again.trials)
