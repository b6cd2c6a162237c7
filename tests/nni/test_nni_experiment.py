"""SEKIStrategy inside NNI's NasExperiment: the sequential engine, and the default web-UI run
(NNI's node manager, local training service, one subprocess per trial)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig
from nni_llm_strategies import SEKIStrategy

from .spaces import TinySpace, evaluate, score_of

REPO = Path(__file__).resolve().parents[2]


def distinct(records: list[dict]) -> bool:
    keys = {json.dumps({k: sorted(v) if isinstance(v, list) else v for k, v in r["config"].items()}, sort_keys=True)
            for r in records}
    return len(keys) == len(records)


def max_in_flight(records: list[dict]) -> int:
    """The most models running at once, from the records' submit and end times."""
    events = sorted([(r["submitted_at"], 1) for r in records] + [(r["finished_at"], -1) for r in records],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_sequential_experiment_runs_max_trial_number(fake_openai, nni_home):
    budget = 8
    strategy = SEKIStrategy(seed=0, llm=fake_openai.base_url)
    config = NasExperimentConfig("sequential", "simplified")
    config.max_trial_number = budget
    config.experiment_working_directory = str(nni_home)
    experiment = NasExperiment(TinySpace(), FunctionalEvaluator(evaluate), strategy, config)
    try:
        experiment.run()
    finally:
        experiment.stop()

    records = strategy.records()
    assert len(records) == budget and all(r["state"] == "complete" for r in records)
    assert distinct(records)
    assert len(fake_openai.chat_requests) <= budget // 2
    assert strategy.summary()["budget"] == budget
    # The LLM is told what each LayerChoice candidate is, not just its index.
    prompt = json.dumps(fake_openai.chat_requests[0].body["messages"])
    assert "Conv2d(3, 8, kernel_size=5, padding=2)" in prompt
    best = max(r["score"] for r in records)
    [top] = experiment.export_top_models(formatter="dict")
    assert score_of(top) == best
    assert [score_of(s) for s in strategy.export_top_models(3, formatter="dict")] == \
        sorted((r["score"] for r in records), reverse=True)[:3]
    # The experiment checkpointed the strategy's state in the temporary folder; plain data
    # only, so torch's weights-only loader (the default since torch 2.6) reads it.
    [checkpoint] = nni_home.glob("*/checkpoint/state.ckpt*")
    saved = torch.load(checkpoint, weights_only=True)["strategy"]
    assert [r["number"] for r in saved["records"]] == list(range(1, budget + 1))
    assert saved["knowledge"] == strategy.knowledge.items()


def test_default_web_ui_run_with_two_trials_in_flight(fake_openai, nni_home, free_port, monkeypatch):
    """The trial subprocesses import tests.nni.spaces: run them from the repository root."""
    budget = 6
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    strategy = SEKIStrategy(seed=0, llm=fake_openai.base_url)
    evaluator = FunctionalEvaluator(evaluate)
    config = NasExperimentConfig.default(TinySpace(), evaluator, strategy)  # "ts" engine, local training
    config.trial_concurrency = 2
    config.max_trial_number = budget
    config.experiment_working_directory = str(nni_home)
    experiment = NasExperiment(TinySpace(), evaluator, strategy, config)
    started = time.perf_counter()
    try:
        experiment.run(port=free_port)
    finally:
        experiment.stop()
    elapsed = time.perf_counter() - started

    records = strategy.records()
    assert len(records) == budget, f"{len(records)} models submitted for max_trial_number={budget}"
    assert all(r["state"] == "complete" for r in records), records
    assert distinct(records)
    assert all(r["score"] == score_of(r["config"]) for r in records)
    assert max_in_flight(records) >= 2 and strategy.summary()["max_in_flight"] >= 2
    assert len(fake_openai.chat_requests) <= budget // 2
    assert max(m.metric for m in strategy.list_models()) == max(r["score"] for r in records)
    print(f"web-UI run: {budget} trials in {elapsed:.1f} s")  # shown with -s
