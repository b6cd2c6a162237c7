"""The four samplers inside Ray Tune: ``OptunaSearch(sampler=...)`` drives a Tune run over
NAS-Bench-201's cell (a table look-up per trial, two trials at a time on a local two-CPU Ray
cluster). Every sample completes with a valid, distinct architecture proposed by the method,
the LLM is used within its call budget, and Tune's results (final values, intermediate
reports, an errored trial, points to evaluate first) reach the sampler through the study that
OptunaSearch keeps."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("ray.tune.search.optuna", reason="Ray Tune is in the ray extra: pip install -e '.[ray]'")

import ray  # noqa: E402
from optuna.trial import TrialState  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402
from ray.tune.utils import flatten_dict  # noqa: E402

from llmnas.benchmarks import NasBench201Table  # noqa: E402
from llmnas.benchmarks.tables import NB201_EDGES, NB201_OPS  # noqa: E402
from optuna_llm_samplers import (  # noqa: E402
    CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler, to_distributions,
)

SAMPLES = 12
METRIC = "valid_acc"
ALL_NONE = {edge: "none" for edge in NB201_EDGES}
ALL_CONV = {edge: "conv_3x3" for edge in NB201_EDGES}


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A local Ray cluster for this module: two CPUs, no dashboard, its files in pytest's temp
    folder, workers' output not forwarded; shut down at the end."""
    auth_mode = os.environ.get("RAY_AUTH_MODE")
    with pytest.MonkeyPatch.context() as mp:
        # Ray (2.5x and later) starts a new local cluster with token authentication and writes a
        # token to ~/.ray/auth_token unless one is given: give it one in the environment. Ray
        # then sets RAY_AUTH_MODE=token itself (setting it here is too late: Ray reads it at
        # import), so it is put back below.
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        mp.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/JSON/TensorBoard result files
        mp.setenv("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # older Ray's FutureWarning about GPUs
        try:
            ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(tmp_path_factory.mktemp("ray")),
                     log_to_driver=False, logging_level=logging.ERROR)
            yield
        finally:
            ray.shutdown()
            if auth_mode is None:
                os.environ.pop("RAY_AUTH_MODE", None)
            else:
                os.environ["RAY_AUTH_MODE"] = auth_mode


def make_trainable(*, epochs: int = 1, fail: dict[str, str] | None = None) -> Callable[[dict], None]:
    """A Tune function trainable: looks the cell up in the CIFAR-10 table and reports its
    validation accuracy (``epochs`` reports, the last one the table's value); raises for
    ``fail``. Built in a function so Ray ships it by value (workers need not import tests)."""
    table = NasBench201Table("cifar10")

    def trainable(config: dict) -> None:
        cell = flatten_dict(config, delimiter="/")  # Tune hands OptunaSearch's "cell/0_1" nested
        if cell == fail:
            raise ValueError("every edge of this cell is cut: nothing to train")
        value = table.query(cell)[METRIC]
        for epoch in range(epochs):
            tune.report({METRIC: value - (epochs - 1 - epoch)})

    return trainable


def run(search: OptunaSearch, trainable: Callable, storage: str, param_space: dict | None = None,
        samples: int = SAMPLES) -> Any:
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(search_alg=search, num_samples=samples, max_concurrent_trials=2,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, verbose=0),
    )
    return tuner.fit()


def cells(results: Any) -> list[dict[str, str]]:
    return [flatten_dict(r.config, delimiter="/") for r in results]


def assert_valid_and_distinct(configs: list[dict[str, str]]) -> None:
    for config in configs:
        assert set(config) == set(NB201_EDGES) and set(config.values()) <= set(NB201_OPS), config
    assert len({tuple(sorted(c.items())) for c in configs}) == len(configs), "an architecture was run twice"


def assert_llm_within_budget(sampler: Any, server: Any, samples: int = SAMPLES) -> dict:
    summary = sampler.summary()
    pipeline = summary["pipeline"]
    assert 1 <= pipeline["llm_calls"] <= samples / 2, summary
    assert pipeline["llm_errors"] == 0 and summary["sampler"]["errors"] == 0, summary
    assert len(server.chat_requests) == pipeline["llm_calls"]
    return summary


SAMPLERS = {
    "seki": lambda llm: SEKISampler(llm=llm, seed=0, budget=SAMPLES, log_every=0,
                                    search_space=to_distributions(NasBench201Table.space())),
    # principles learned from CIFAR-100's best cells, applied to CIFAR-10
    "lapt": lambda llm: LAPTSampler(llm=llm, seed=0, budget=SAMPLES, log_every=0,
                                    source=NasBench201Table("cifar100"), source_description="CIFAR-100",
                                    search_space=to_distributions(NasBench201Table.space())),
    "collm_nas": lambda llm: CoLLMNASSampler(llm=llm, seed=0, budget=SAMPLES, log_every=0,
                                             search_space=to_distributions(NasBench201Table.space())),
    "gpt_ea": lambda llm: GPTEASampler(llm=llm, seed=0, budget=SAMPLES, log_every=0,
                                       search_space=to_distributions(NasBench201Table.space())),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_tune_runs_the_sampler_over_a_tune_search_space(ray_cluster, fake_openai, tmp_path, name):
    """The usual Tune set-up: ``param_space`` with ``tune.choice``; the nested keys
    (``cell`` → ``0_1``) reach Optuna as ``cell/0_1``, the names of ``NasBench201Table.space()``
    given to the sampler, so every trial, the first two included, is proposed by the method."""
    sampler = SAMPLERS[name](fake_openai.base_url)
    search = OptunaSearch(sampler=sampler, metric=METRIC, mode="max")
    space = {"cell": {edge.split("/")[1]: tune.choice(list(NB201_OPS)) for edge in NB201_EDGES}}
    results = run(search, make_trainable(), str(tmp_path), param_space=space)

    assert len(results) == SAMPLES and results.num_errors == 0
    configs = cells(results)
    assert_valid_and_distinct(configs)

    summary = assert_llm_within_budget(sampler, fake_openai)
    own = summary["sampler"]
    assert own["trials_proposed"] == SAMPLES and own["trials_finished"] == SAMPLES, own
    assert own["independent_fallbacks"] == 0, own  # Tune's names are the sampler's names
    if name == "lapt":  # the LLM wrote principles; evolution inside them proposes the cells
        assert sampler.principles(search._ot_study)["provenance"]["source"] == "CIFAR-100"
    else:
        pipeline = summary["pipeline"]
        assert pipeline["accepted_llm"] + pipeline["accepted_reask"] >= 1, pipeline

    study = search._ot_study  # the study behind OptunaSearch, sampled by ours
    assert study.sampler is sampler
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * SAMPLES
    tune_values = {tuple(sorted(c.items())): r.metrics[METRIC] for c, r in zip(configs, results)}
    assert {tuple(sorted(t.params.items())): t.value for t in study.trials} == tune_values
    assert study.best_value == results.get_best_result(METRIC, "max").metrics[METRIC]


def test_tune_points_errors_and_intermediate_reports_reach_the_sampler(ray_cluster, fake_openai, tmp_path):
    """OptunaSearch's own space (Optuna distributions) and ``points_to_evaluate``: the two
    given cells run first, the all-``none`` one errors in Tune (a FAIL trial for the sampler),
    every epoch's report is an intermediate value, and the method never repeats a given cell.
    The sampler is not told the space: it learns it from the finished trials."""
    samples = 8
    sampler = SEKISampler(llm=fake_openai.base_url, seed=0, budget=samples, log_every=0)
    search = OptunaSearch(space=to_distributions(NasBench201Table.space()), sampler=sampler, metric=METRIC,
                          mode="max", points_to_evaluate=[ALL_NONE, ALL_CONV])
    results = run(search, make_trainable(epochs=3, fail=ALL_NONE), str(tmp_path), samples=samples)

    assert len(results) == samples and results.num_errors == 1
    assert [flatten_dict(r.config, delimiter="/") for r in results if r.error] == [ALL_NONE]
    assert_valid_and_distinct(cells(results))

    summary = assert_llm_within_budget(sampler, fake_openai, samples)
    own = summary["sampler"]
    assert own["trials_finished"] == samples, own
    assert own["trials_proposed"] == samples - 2, own  # the given points need no proposal

    study = search._ot_study
    first, second, *rest = study.trials
    assert (first.state, first.params) == (TrialState.FAIL, ALL_NONE)
    assert (second.state, second.params) == (TrialState.COMPLETE, ALL_CONV)
    table = NasBench201Table("cifar10")
    for trial in [second, *rest]:
        assert trial.state == TrialState.COMPLETE
        assert trial.value == table.query(trial.params)[METRIC]
        assert sorted(trial.intermediate_values) == [1, 2, 3]  # Tune's training_iteration
        assert trial.intermediate_values[3] == trial.value
