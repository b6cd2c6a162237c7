"""Bounded waits: with ``LLMNAS_LLM_TIMEOUT=5`` and an endpoint that never answers, no trial
(and no NNI batch) waits much more than 5 s for the LLM, all exchanges and retries together;
after repeated timeouts the endpoint is called less often; every trial still completes."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState

from llmnas.llm import OpenAIChatLLM
from llmnas.searcher import Searcher
from llmnas.methods import SEKI
from nni.nas.execution import SequentialExecutionEngine
from nni_llm_strategies import SEKIStrategy
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.fake_openai import Hang
from tests.nni.test_nni_strategy import tiny_space
from tests.optuna.conftest import nas_objective

SAMPLERS = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]
SHORT = {LAPTSampler: {"warmup": 2, "adapt_every": 2}, GPTEASampler: {"population": 3}}
BOUND_S = 5.0
SLACK_S = 5.0  # "about 10 s": the bound plus the objective, storage and a slow CI machine


@pytest.fixture
def hanging(fake_openai, monkeypatch):
    monkeypatch.setenv("LLMNAS_LLM_TIMEOUT", str(BOUND_S))
    monkeypatch.setenv("LLMNAS_MODEL", "fake-model")
    fake_openai.script([Hang(120.0)] * 200)
    return fake_openai


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_no_trial_waits_longer_than_the_bound(hanging, sampler_class):
    n = 8
    sampler = sampler_class(seed=0, budget=n, llm=hanging.base_url, **SHORT.get(sampler_class, {}))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=n)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * n
    waits = [(t.datetime_complete - t.datetime_start).total_seconds() for t in study.trials]
    assert max(waits) <= BOUND_S + SLACK_S, waits
    pipeline = sampler.summary()["pipeline"]
    assert pipeline["llm_timeouts"] >= 1 and pipeline["accepted_llm"] == 0
    labels = {t.user_attrs["llmnas_source"] for t in study.trials[1:]}
    assert labels <= {"fallback", "stand-in", "operator:evolution", "operator:init", "operator:ga", "random"}, labels


def test_an_endpoint_that_keeps_timing_out_is_called_less_often(fake_openai):
    """Two timeouts in a row rest the endpoint for 2 calls, then 4, ...: of 16 calls the
    method wants, only a few reach the endpoint; an answer ends the rest. (The papers' loop,
    ``trust=False``: every batch wants the LLM. Under the trust rule each timed-out call is also
    a loss, and a study this short asks the LLM once.)"""
    fake_openai.script([Hang(60.0)] * 200)
    llm = OpenAIChatLLM("fake-model", base_url=fake_openai.base_url, timeout=0.3, max_retries=0)
    sampler = SEKISampler(seed=0, budget=40, llm=llm, batch_size=1, max_calls_per_proposal=2.0, trust=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=9)
    pipeline = sampler.summary()["pipeline"]
    assert pipeline["timeout_skips"] >= pipeline["llm_timeouts"] >= 2
    assert len(fake_openai.chat_requests) == pipeline["llm_calls"] < pipeline["llm_calls"] + pipeline["timeout_skips"]
    fake_openai.reset()  # the endpoint recovers: after the rest the LLM answers again
    llm.timeout = 10.0  # answers now come at once; a busy machine must not turn them into timeouts
    study.optimize(nas_objective, n_trials=12)
    assert sampler.summary()["pipeline"]["accepted_llm"] >= 1


def test_an_nni_batch_waits_no_longer_than_the_bound(hanging):
    strategy = SEKIStrategy(seed=0, llm=hanging.base_url)
    start = time.monotonic()
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=6, continue_on_failure=True))
    records = strategy.records()
    assert len(records) == 6 and all(r["state"] == "complete" for r in records)
    batches = max(1, strategy.summary()["pipeline"]["batches"])
    assert time.monotonic() - start <= batches * (BOUND_S + SLACK_S)
    assert strategy.summary()["pipeline"]["llm_timeouts"] >= 1


@pytest.mark.parametrize("value", ["0", "-3", "soon", "nan"])
def test_a_bad_llmnas_llm_timeout_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("LLMNAS_LLM_TIMEOUT", value)
    with pytest.raises(ValueError, match="LLMNAS_LLM_TIMEOUT must be a number of seconds > 0"):
        SEKISampler()


@pytest.mark.parametrize("kwargs, name", [({"llm_timeout": 0}, "llm_timeout"), ({"llm_retries": -1}, "llm_retries"),
                                          ({"llm_request_timeout": "1"}, "llm_request_timeout")])
def test_bad_wait_settings_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Searcher(SEKI(), **kwargs)


def test_the_defaults_bound_one_exchange_to_a_minute(monkeypatch):
    monkeypatch.delenv("LLMNAS_LLM_TIMEOUT", raising=False)
    llm = OpenAIChatLLM("m", base_url="http://127.0.0.1:9/v1")
    assert llm.max_total_s == 60.0 and llm.timeout == 60.0 and llm.max_retries == 4
    searcher = Searcher(SEKI(), llm="http://127.0.0.1:9/v1", llm_timeout=7, llm_retries=1, llm_request_timeout=3)
    assert searcher.llm_timeout == 7.0
    assert (searcher.llm_retries, searcher.llm_request_timeout) == (1, 3)
