"""Several worker processes with the same ``seed=`` on one JournalStorage file, one thread
each, started together (a barrier): nothing is evaluated twice, neither the first trials
(sampled before the study knows any space, so before any claim) nor the method's proposals
(identical seeds make identical batches: claim, check, and part ways after clashes)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import EDGES, OPS, nas_objective, params_key

SAMPLERS = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]
WORKERS, TRIALS_PER_WORKER = 3, 8


def _worker(path: str, sampler_class, base_url: str | None, with_space: bool, barrier, queue) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {e: optuna.distributions.CategoricalDistribution(list(OPS)) for e in EDGES} if with_space else None
    sampler = sampler_class(seed=7, budget=WORKERS * TRIALS_PER_WORKER, llm=base_url,
                            use_llm=base_url is not None, search_space=space)
    study = optuna.load_study(study_name="same-seed", storage=JournalStorage(JournalFileBackend(path)),
                              sampler=sampler)
    barrier.wait(timeout=120)
    study.optimize(nas_objective, n_trials=TRIALS_PER_WORKER, n_jobs=1)
    queue.put(sampler.summary()["sampler"]["claim_clashes"])


def run_same_seed(path: Path, sampler_class, base_url: str | None, with_space: bool) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(path)))
    optuna.create_study(study_name="same-seed", storage=storage, direction="maximize")
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(WORKERS), context.Queue()
    workers = [context.Process(target=_worker, args=(str(path), sampler_class, base_url, with_space, barrier, queue))
               for _ in range(WORKERS)]
    for w in workers:
        w.start()
    try:
        for w in workers:
            w.join(timeout=300)
    finally:
        for w in workers:  # never leave a worker behind, whatever happened
            if w.is_alive():
                w.terminate()
                w.join(timeout=10)
    assert [w.exitcode for w in workers] == [0] * WORKERS
    [queue.get(timeout=5) for _ in workers]
    return optuna.load_study(study_name="same-seed", storage=JournalStorage(JournalFileBackend(str(path))))


@pytest.mark.parametrize("with_space", [False, True], ids=["define-by-run", "search_space"])
@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_same_seed_workers_evaluate_nothing_twice(tmp_path: Path, sampler_class, with_space: bool) -> None:
    with FakeOpenAIServer(seed=0) as server:
        study = run_same_seed(tmp_path / "journal.log", sampler_class, server.base_url, with_space)
    trials = study.trials
    assert len(trials) == WORKERS * TRIALS_PER_WORKER
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
    keys = [params_key(t) for t in trials]
    assert len(set(keys)) == len(keys), "an architecture was evaluated twice by same-seed workers"
    assert all("llmnas_source" in t.user_attrs for t in trials)


def test_same_seed_workers_without_llm_evaluate_nothing_twice(tmp_path: Path) -> None:
    """The LLM-off ablation (identical operator streams in every worker), define-by-run."""
    study = run_same_seed(tmp_path / "journal.log", SEKISampler, None, False)
    keys = [params_key(t) for t in study.trials]
    assert len(keys) == WORKERS * TRIALS_PER_WORKER and len(set(keys)) == len(keys)


def test_a_lone_workers_first_trial_draws_as_before() -> None:
    """The first trial of a define-by-run study draws from the sampler's seeded stream, as
    Optuna's RandomSampler with that seed does (a single-worker run is reproducible as before)."""
    first = []
    for sampler in (SEKISampler(seed=3, use_llm=False), optuna.samplers.RandomSampler(seed=3)):
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(nas_objective, n_trials=1)
        first.append(study.trials[0].params)
    assert first[0] == first[1]
