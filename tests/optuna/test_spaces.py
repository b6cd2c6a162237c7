"""Define-by-run, conditional and numeric spaces; exhaustion of a finite space."""

from __future__ import annotations

import logging

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from optuna_llm_samplers import SEKISampler
from optuna_llm_samplers._sampler import CLAIM_KEY
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import params_key


def _all_values_valid(study: optuna.Study) -> bool:
    return all(
        t.distributions[name]._contains(t.distributions[name].to_internal_repr(value))
        for t in study.trials
        for name, value in t.params.items()
    )


def test_conditional_and_growing_space(fake_openai: FakeOpenAIServer) -> None:
    def objective(trial: optuna.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["conv", "pool"])
        if kind == "conv":
            score = float(trial.suggest_categorical("kernel", [1, 3, 5]))
        else:
            score = {"avg": 1.5, "max": 2.5}[trial.suggest_categorical("pool", ["avg", "max"])]
        score *= trial.suggest_int("depth", 1, 4)
        if trial.number >= 6:  # a parameter the code adds later in the study
            score += trial.suggest_int("width", 8, 64, step=8) / 8
        return score

    n = 18
    # trust=False: every batch asks the LLM, so its answers after "width" appeared are checked
    # (with the trust rule, whether the fake's random answers win those slots is the draws' call)
    sampler = SEKISampler(seed=0, budget=n, llm=fake_openai.base_url, trust=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n)

    trials = study.trials
    assert len(trials) == n
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert _all_values_valid(study)
    # Conditional duplicates are refused too: no two trials took the same path.
    assert len({params_key(t) for t in trials}) == n
    assert all(("kernel" in t.params) != ("pool" in t.params) for t in trials)

    # "width" was new at trial 6 (sampled at random there), then part of every proposal.
    reasons = sampler.summary()["sampler"]["independent_fallback_reasons"]
    assert reasons.get("parameter not in the known search space yet", 0) >= 1
    later_claims = [t.system_attrs[CLAIM_KEY]["config"] for t in trials[8:]]
    assert all("width" in claim for claim in later_claims)
    assert all(t.params["width"] == t.system_attrs[CLAIM_KEY]["config"]["width"] for t in trials[8:])
    assert any(t.system_attrs[CLAIM_KEY]["source"].startswith("llm") for t in trials[8:])


def _numeric_objective(trial: optuna.Trial, grids: bool) -> float:
    channels = trial.suggest_int("channels", 4, 256, log=True)
    layers = trial.suggest_int("layers", 3, 21, step=3)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    momentum = trial.suggest_float("momentum", 0.8, 0.99)
    score = channels / 256 + layers / 21 - abs(lr - 1e-3) + momentum
    if grids:  # grids the LLM's JSON schema cannot express: off-grid answers are snapped
        score -= trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
        score += trial.suggest_int("kernel", 1, 7, step=2)
    return score


@pytest.mark.parametrize("grids", [False, True], ids=["log-and-plain", "step-grids"])
def test_numeric_dimensions_are_proposed_valid(fake_openai: FakeOpenAIServer, grids: bool) -> None:
    n = 15
    sampler = SEKISampler(seed=0, budget=n, llm=fake_openai.base_url)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: _numeric_objective(t, grids), n_trials=n)

    assert len(study.trials) == n
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert _all_values_valid(study)
    assert len({params_key(t) for t in study.trials}) == n
    for t in study.trials:
        assert isinstance(t.params["channels"], int) and isinstance(t.params["layers"], int)
        assert t.params["layers"] % 3 == 0
        assert isinstance(t.params["lr"], float) and isinstance(t.params["momentum"], float)
    # Claimed values are the values the trial ran with.
    for t in study.trials[1:]:
        claim = t.system_attrs[CLAIM_KEY]["config"]
        assert all(claim[name] == pytest.approx(value) for name, value in t.params.items())

    pipeline = sampler.summary()["pipeline"]
    from_llm = [t for t in study.trials if t.system_attrs.get(CLAIM_KEY, {}).get("source", "").startswith("llm")]
    # The fake model writes 4-decimal numbers, off the 0.1 and odd-integer grids: they are
    # snapped to the host's grid (then validated), so the LLM's answers are used.
    assert from_llm, "the LLM's numeric answers were never used"
    assert pipeline["invalid"] == 0
    if grids:
        for t in from_llm:
            assert t.params["kernel"] in (1, 3, 5, 7)
            assert round(t.params["dropout"] * 10) == pytest.approx(t.params["dropout"] * 10)


def test_exhausted_space_stops_the_study(caplog: pytest.LogCaptureFixture) -> None:
    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_categorical("act", ["relu", "gelu"])
        b = trial.suggest_int("blocks", 1, 2)
        return b + (a == "gelu")

    sampler = SEKISampler(seed=0, use_llm=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with caplog.at_level(logging.INFO, logger="optuna_llm_samplers"):
        study.optimize(objective, n_trials=10)
    assert len(study.trials) == 4
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len({params_key(t) for t in study.trials}) == 4
    assert "stopping the study after trial 3" in caplog.text

    # Running an exhausted study again re-evaluates one configuration and stops at once,
    # as GridSampler does; the summary counts it.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="optuna_llm_samplers"):
        study.optimize(objective, n_trials=10)
    assert len(study.trials) == 5
    assert sampler.summary()["sampler"]["exhausted_trials"] == 1
    assert "re-evaluates a random one" in caplog.text


def test_exhaustion_with_threads_starts_no_duplicate() -> None:
    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_int("x", 0, 2) + trial.suggest_float("y", 0.0, 1.0, step=0.5)

    sampler = SEKISampler(seed=0, use_llm=False)
    study = optuna.create_study(sampler=sampler)
    study.enqueue_trial({"x": 0, "y": 0.0})  # a known space from the first trial on
    study.optimize(objective, n_trials=30, n_jobs=2)
    # All 9 configurations, each once. Running claims count as taken, so the study normally
    # stops with no extra trial; a thread that starts just before the last claim re-evaluates
    # one configuration, and that is counted.
    assert len({params_key(t) for t in study.trials}) == 9
    exhausted = sampler.summary()["sampler"]["exhausted_trials"]
    assert exhausted <= 1 and len(study.trials) == 9 + exhausted


def test_dynamic_ranges_keep_values_valid() -> None:
    def objective(trial: optuna.Trial, high: int) -> float:
        return trial.suggest_int("n", 0, high) + trial.suggest_float("x", 0.0, float(high))

    sampler = SEKISampler(seed=0, use_llm=False)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: objective(t, 10), n_trials=6)
    study.optimize(lambda t: objective(t, 3), n_trials=6)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for t in study.trials[6:]:
        assert 0 <= t.params["n"] <= 3 and 0.0 <= t.params["x"] <= 3.0
    assert t.distributions["n"] == IntDistribution(0, 3)
    assert t.distributions["x"] == FloatDistribution(0.0, 3.0)
