"""Several worker processes, each with two threads, on one study through a JournalStorage file
and through a real PostgreSQL server (started here on a Unix socket, stopped at the end):
every trial completes, no architecture is evaluated twice, knowledge is shared through the
storage, and the threads of a process share LLM answers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler, StudyKnowledge
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import nas_objective, params_key

SAMPLERS = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]
PROCESSES, THREADS, TRIALS_PER_PROCESS = 2, 2, 10


def _storage(spec: str):
    if spec.startswith("journal:"):
        return JournalStorage(JournalFileBackend(spec.removeprefix("journal:")))
    return spec  # an RDB URL


def _worker(spec: str, name: str, sampler, queue) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=_storage(spec), sampler=sampler)
    study.optimize(nas_objective, n_trials=TRIALS_PER_PROCESS, n_jobs=THREADS)
    queue.put(sampler.summary()["pipeline"]["llm_calls"])


def run_workers(spec: str, name: str, sampler_class, base_url: str) -> tuple[optuna.Study, list[int]]:
    optuna.create_study(study_name=name, storage=_storage(spec), direction="maximize")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_worker, args=(spec, name, sampler_class(seed=i, budget=20, llm=base_url), queue))
        for i in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=240)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    return optuna.load_study(study_name=name, storage=_storage(spec)), [queue.get(timeout=5) for _ in workers]


def check(study: optuna.Study, calls: list[int], sampler_class) -> None:
    trials = study.trials
    assert len(trials) == PROCESSES * TRIALS_PER_PROCESS
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
    assert len({params_key(t) for t in trials}) == len(trials), "an architecture was evaluated twice"
    # One LLM answer serves both threads of a process: batched, at most one call per two trials.
    assert sum(calls) >= 1 and all(c <= TRIALS_PER_PROCESS / 2 for c in calls), calls
    if sampler_class is not GPTEASampler:  # GPT-EA keeps no LLM-written knowledge
        assert StudyKnowledge.of(study).items(), "the workers' knowledge is in the storage"


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_processes_and_threads_on_a_journal_file(tmp_path: Path, sampler_class) -> None:
    with FakeOpenAIServer(seed=0) as server:
        study, calls = run_workers(f"journal:{tmp_path / 'journal.log'}", "mp", sampler_class, server.base_url)
    check(study, calls, sampler_class)


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_processes_and_threads_on_postgresql(postgres_url: str, sampler_class) -> None:
    with FakeOpenAIServer(seed=0) as server:
        study, calls = run_workers(postgres_url, f"mp-{sampler_class.__name__}", sampler_class, server.base_url)
    check(study, calls, sampler_class)


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_prefetching_threads_get_distinct_batched_proposals(sampler_class) -> None:
    """With prefetch on, the next batch is proposed in the background: four threads, a slow
    endpoint; every trial completes, none repeats, calls stay batched and some batches were
    ready before a trial asked."""
    import random
    import time

    from tests.fake_openai import generate_from_schema

    def slow_answer(body, schema, rng: random.Random):
        time.sleep(0.3)
        return generate_from_schema(schema, rng)

    with FakeOpenAIServer(seed=0, responder=slow_answer) as server:
        sampler = sampler_class(seed=0, budget=30, llm=server.base_url, prefetch=True)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(lambda t: (time.sleep(0.1), nas_objective(t))[1], n_trials=30, n_jobs=4)
        sampler._searcher.wait_for_prefetch()
    trials = study.trials
    assert len(trials) == 30 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({params_key(t) for t in trials}) == 30
    summary = sampler.summary()
    assert summary["pipeline"]["llm_calls"] <= 15
    assert summary["prefetched_batches"] >= 1
