"""Optuna's own callbacks with the LLM samplers: ``MaxTrialsCallback`` across threads and
``RetryHeartbeatStaleTrialCallback`` re-running a trial whose worker died (stale heartbeat) on a real
PostgreSQL storage."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.optuna.conftest import EDGES, OPS, nas_objective, params_key

SAMPLERS = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_max_trials_callback_with_threads(fake_openai, sampler_class):
    study = optuna.create_study(direction="maximize",
                                sampler=sampler_class(seed=0, budget=12, llm=fake_openai.base_url))
    study.optimize(nas_objective, n_trials=50, n_jobs=2,
                   callbacks=[MaxTrialsCallback(12, states=(TrialState.COMPLETE,))])
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert 12 <= len(complete) <= 13  # the other thread may be finishing one when the 12th completes
    assert len({params_key(t) for t in study.trials}) == len(study.trials)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_a_stale_trial_is_retried_with_its_architecture(postgres_url, fake_openai, sampler_class):
    storage = RDBStorage(postgres_url, heartbeat_interval=1, grace_period=1,
                         heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
    name = f"stale-{sampler_class.__name__}"
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                sampler=sampler_class(seed=0, budget=12, llm=fake_openai.base_url))
    study.optimize(nas_objective, n_trials=3)
    # A worker takes a trial, sets its architecture and dies without telling anyone.
    dead = study.ask()
    stale_params = {edge: dead.suggest_categorical(edge, list(OPS)) for edge in EDGES}
    storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)  # past the grace period: the next optimize call fails it and enqueues a retry

    study.optimize(nas_objective, n_trials=6)
    trials = study.trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [dead.number]
    [retry] = [t for t in trials if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == dead.number]
    assert retry.state == TrialState.COMPLETE and retry.params == stale_params
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len({params_key(t) for t in complete}) == len(complete) == 9
