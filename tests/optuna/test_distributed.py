"""Several worker processes, each with two threads, on one study through a JournalStorage file
and through a real PostgreSQL server (started here on a Unix socket, stopped at the end):
every trial completes, no architecture is evaluated twice, knowledge is shared through the
storage, and the threads of a process share LLM answers."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for this module (pgserver ships the binaries), on a socket."""
    import warnings

    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" (harmless here)
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        server.cleanup()


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
