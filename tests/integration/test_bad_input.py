"""Bad input, for every sampler and (where it applies) every strategy: an empty search space,
distributions at the edge of what a method can use, conditional and growing spaces, NaN/inf
objective values, studies where every trial fails, a budget larger than the search space, and
invalid constructor arguments. Each gets a clear error or the documented behaviour (README,
"Bad input: what happens").

Covered elsewhere, not repeated here: SEKI on a growing conditional space and on a flat
exhausted space (tests/optuna/test_spaces.py), SEKIStrategy on an exhausted space and its
argument checks (tests/nni/test_nni_strategy.py), unsupported NNI mutables
(tests/nni/test_nni_space.py), failed and pruned trials with SEKI (tests/optuna/test_trial_outcomes.py).
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from llmnas.space import Float, Integer
from nni_llm_strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy, SEKIStrategy
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from optuna_llm_samplers._sampler import CLAIM_KEY
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import OddDistribution

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*is found to be not a nn\.Module", category=RuntimeWarning)
    import nni
    import torch.nn as nn
    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.execution import SequentialExecutionEngine
    from nni.nas.nn.pytorch import LayerChoice, ModelSpace, Repeat
    from nni.nas.space import SimplifiedModelSpace

    from tests.nni.spaces import TinySpace, current_sample, score_of

SAMPLERS = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]
LIBRARY_LOGGERS = ("llmnas", "optuna_llm_samplers", "nni_llm_strategies")
STRATEGIES = [SEKIStrategy, LAPTStrategy, CoLLMNASStrategy, GPTEAStrategy]
OPS = ["conv", "pool", "skip"]


def short_run_kwargs(cls: type) -> dict[str, Any]:
    """Settings that make each method call the LLM within a dozen trials (LAPT learns after 3
    warm-up trials instead of 10; GPT-EA breeds from a population of 4)."""
    name = cls.__name__
    if name.startswith("LAPT"):
        return {"warmup": 3, "adapt_every": 3, "batch_size": 2}
    if name.startswith("GPTEA"):
        return {"population": 4, "batch_size": 2}
    return {}


def params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def valid_for_optuna(trial: optuna.trial.FrozenTrial) -> bool:
    return all(trial.distributions[n]._contains(trial.distributions[n].to_internal_repr(v))
               for n, v in trial.params.items())


def prompt_lines(server: FakeOpenAIServer) -> list[str]:
    return [line for r in server.chat_requests for m in r.body["messages"] for line in m["content"].splitlines()]


def messages(caplog: pytest.LogCaptureFixture, text: str, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage() and r.levelno >= level]


@pytest.fixture(autouse=True)
def _quiet_optuna():
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    yield
    optuna.logging.set_verbosity(verbosity)


@pytest.fixture(autouse=True)
def _no_error_records(caplog):
    """Every bad-input case of the README's table is a clear message or exception, never an
    ERROR record of the library (a method that crashed and fell back would log one)."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(LIBRARY_LOGGERS)]
    assert not errors, errors


# --------------------------------------------------------------------------- Optuna: spaces


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_an_objective_that_suggests_nothing_runs_without_proposals(fake_openai, sampler_class, caplog):
    sampler = sampler_class(seed=0, llm=fake_openai.base_url)
    study = optuna.create_study(sampler=sampler)
    with caplog.at_level(logging.WARNING, logger="optuna_llm_samplers"):
        study.optimize(lambda trial: 1.0, n_trials=3)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert all(t.params == {} for t in study.trials)
    own = sampler.summary()["sampler"]
    assert own["trials_finished"] == 3 and own["trials_proposed"] == 0 and own["errors"] == 0
    assert fake_openai.chat_requests == []  # nothing to ask the LLM about
    [warning] = messages(caplog, "suggested no parameters")  # said once, not per trial
    assert "Trial 0" in warning and sampler.method.name in warning


def _numeric_objective(trial: optuna.Trial) -> float:
    op = trial.suggest_categorical("op", OPS)
    width = trial.suggest_float("width", 0.0, 1.0)  # continuous, no step
    lr = trial.suggest_float("lr", 1e-6, 1e-1, log=True)
    seed = trial.suggest_int("seed", -(2**62), 2**62)  # 2**63 + 1 values: more than an int64 can count
    channels = trial.suggest_int("channels", 1, 2**40, log=True)
    return OPS.index(op) + width - abs(math.log10(lr) + 3) + seed / 2**62 + math.log2(channels) / 40


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_continuous_log_and_huge_ranges_are_searched_by_the_method(fake_openai, sampler_class, caplog):
    n = 10
    sampler = sampler_class(seed=0, budget=n, llm=fake_openai.base_url, **short_run_kwargs(sampler_class))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with caplog.at_level(logging.ERROR):
        study.optimize(_numeric_objective, n_trials=n)

    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * n
    assert all(valid_for_optuna(t) for t in trials)
    assert len({params_key(t.params) for t in trials}) == n
    assert all(isinstance(t.params["seed"], int) and isinstance(t.params["channels"], int) for t in trials)
    own = sampler.summary()["sampler"]
    # Only the first trial (space still unknown) is sampled at random; every later parameter,
    # continuous or huge, comes from the method's proposal, which the trial really used.
    assert own["independent_fallback_reasons"] == {"parameter not in the known search space yet": 5}
    assert own["trials_proposed"] == n - 1 and own["errors"] == 0
    for t in trials[1:]:
        claim = t.system_attrs[CLAIM_KEY]["config"]
        assert all(claim[name] == pytest.approx(value) for name, value in t.params.items())
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # no method error on the way


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_distributions_no_sampler_can_use_are_clear_errors(sampler_class):
    with pytest.raises(ValueError, match=r"'x'.*infinite bound.*finite low and high"):
        sampler_class(search_space={"x": FloatDistribution(0.0, math.inf)})
    with pytest.raises(TypeError, match=r"'odd': OddDistribution is not supported.*suggest_categorical"):
        sampler_class(search_space={"odd": OddDistribution()})
    # Define-by-run: the trial that suggests it fails with the same message (as Optuna's own
    # samplers fail on an infinite range), and the study stops there.
    study = optuna.create_study(sampler=sampler_class(seed=0, use_llm=False))
    study.optimize(lambda t: t.suggest_categorical("op", OPS) and 0.0, n_trials=1)
    with pytest.raises(ValueError, match=r"'x'.*infinite bound"):
        study.optimize(lambda t: t.suggest_categorical("op", OPS) and t.suggest_float("x", 0.0, math.inf),
                       n_trials=3)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]


def test_huge_and_overflowing_ranges_sample_inside_their_bounds():
    rng = np.random.default_rng(0)
    huge = Integer("seed", -(2**62), 2**62)  # 2**63 + 1 values
    draws = [huge.sample(rng) for _ in range(200)]
    assert all(isinstance(v, int) and not huge.errors(v) for v in draws)
    assert min(draws) < -(2**60) and max(draws) > 2**60  # spread over the range, not stuck at one end
    wide = Float("w", -1.7e308, 1.7e308)  # high - low overflows a float
    assert all(math.isfinite(v) and not wide.errors(v) for v in (wide.sample(rng) for _ in range(50)))
    fine = Float("f", 0.0, 1e16, step=1e-3)  # 1e19 grid points
    assert all(not fine.errors(v) for v in (fine.sample(rng) for _ in range(50)))


@pytest.mark.parametrize("numeric_only", [False, True], ids=["mixed", "numeric-only"])
def test_a_transformer_prior_leaves_numeric_dimensions_to_the_ga(numeric_only, caplog):
    """GPT-EA's Transformer prior models categorical dimensions only: numeric ones are never
    erased for it to refill (they evolve by crossover and mutation), and a space without a
    categorical dimension runs as a plain GA, said once."""
    def objective(trial: optuna.Trial) -> float:
        op = 0 if numeric_only else OPS.index(trial.suggest_categorical("op", OPS))
        return op + trial.suggest_float("width", 0.0, 1.0) + trial.suggest_int("depth", 1, 20)

    corpus = [{"op": OPS[i % 3], "width": i / 10, "depth": i} for i in range(1, 11)]
    sampler = GPTEASampler(seed=0, prior="transformer", corpus=corpus, population=4, batch_size=2)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with caplog.at_level(logging.INFO, logger="llmnas.methods.gpt_ea"):
        study.optimize(objective, n_trials=14)

    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 14
    assert len({params_key(t.params) for t in study.trials}) == 14
    summary = sampler.summary()
    reasons = " ".join(summary["pipeline"]["fallback_reasons"])
    assert "unfilled" not in reasons and "unavailable" not in reasons and summary["sampler"]["errors"] == 0
    if numeric_only:
        [said] = messages(caplog, "cannot refill any dimension")
        assert "plain GA" in said and summary["settings"]["prior_fitted"] is False  # never trained
    else:
        [said] = messages(caplog, "does not model width, depth", logging.INFO)
        assert summary["settings"]["prior_corpus"] == 10  # trained on the categorical part
        sources = {t.system_attrs[CLAIM_KEY]["source"] for t in study.trials[1:]}
        assert "prior" in sources  # the prior refilled erased categorical dimensions


def _conditional_objective(trial: optuna.Trial) -> float:
    """12 distinct paths: conv × kernel (3) × depth (3), or pool × depth (3)."""
    kind = trial.suggest_categorical("kind", ["conv", "pool"])
    score = float(trial.suggest_categorical("kernel", [1, 3, 5])) if kind == "conv" else 2.0
    return score * trial.suggest_int("depth", 1, 3)


def _growing_objective(trial: optuna.Trial) -> float:
    score = _conditional_objective(trial)
    if trial.number >= 5:  # a parameter the code adds later in the study
        score += trial.suggest_int("width", 8, 64, step=8) / 8
    return score


# SEKI is tested on this kind of space in tests/optuna/test_spaces.py.
@pytest.mark.parametrize("sampler_class", SAMPLERS[1:], ids=lambda c: c.__name__)
def test_conditional_and_growing_define_by_run_space(fake_openai, sampler_class):
    n = 16
    sampler = sampler_class(seed=0, budget=n, llm=fake_openai.base_url, **short_run_kwargs(sampler_class))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_growing_objective, n_trials=n)

    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * n
    assert all(valid_for_optuna(t) for t in trials)
    assert all(("kernel" in t.params) == (t.params["kind"] == "conv") for t in trials)
    # No two trials took the same path (a pool trial ignores "kernel": a proposal differing
    # only there is a duplicate and is refused).
    assert len({params_key(t.params) for t in trials}) == n
    own = sampler.summary()["sampler"]
    assert own["errors"] == 0
    assert own["independent_fallback_reasons"].get("parameter not in the known search space yet", 0) >= 1
    # Once "width" was seen, the method proposes it too, and the trials use its values.
    later = [t for t in trials[7:] if t.system_attrs.get(CLAIM_KEY)]
    assert later and all("width" in t.system_attrs[CLAIM_KEY]["config"] for t in later)
    assert all(t.params["width"] == t.system_attrs[CLAIM_KEY]["config"]["width"] for t in later)


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_a_budget_larger_than_a_conditional_space_stops_when_it_is_exhausted(fake_openai, sampler_class, caplog):
    sampler = sampler_class(seed=0, budget=40, llm=fake_openai.base_url, **short_run_kwargs(sampler_class))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with caplog.at_level(logging.INFO, logger="optuna_llm_samplers"):
        study.optimize(_conditional_objective, n_trials=40)
    # Every one of the 12 paths once, then study.stop(), as GridSampler does.
    trials = study.trials
    assert len(trials) == 12 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({params_key(t.params) for t in trials}) == 12
    assert messages(caplog, "stopping the study after trial 11", logging.INFO)
    assert sampler.summary()["sampler"]["exhausted_trials"] == 0  # no trial re-evaluated anything

    # A space of one configuration: one trial, then the study stops.
    single = optuna.create_study(sampler=sampler_class(seed=0, use_llm=False))
    single.optimize(lambda t: t.suggest_int("x", 3, 3) + len(t.suggest_categorical("y", ["only"])), n_trials=5)
    assert len(single.trials) == 1


# --------------------------------------------------------------------------- Optuna: outcomes


def _nan_inf_objective(trial: optuna.Trial) -> float:
    op = trial.suggest_categorical("op", OPS)
    depth = trial.suggest_int("depth", 1, 6)
    if trial.number % 4 == 1:
        return math.nan  # Optuna marks the trial FAIL
    if trial.number % 4 == 3:
        return math.inf if trial.number % 8 == 3 else -math.inf  # Optuna keeps it COMPLETE
    return OPS.index(op) + depth


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_nan_and_inf_values_count_as_failed_and_never_reach_a_prompt(fake_openai, sampler_class, caplog):
    n = 16
    # trust=False: every batch asks the LLM, so later prompts exist to show the failures in
    sampler = sampler_class(seed=0, budget=n, llm=fake_openai.base_url, trust=False, **short_run_kwargs(sampler_class))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with caplog.at_level(logging.WARNING, logger="optuna_llm_samplers"):
        study.optimize(_nan_inf_objective, n_trials=n)

    trials = study.trials
    assert len(trials) == n and all(valid_for_optuna(t) for t in trials)
    assert [t.number for t in trials if t.state == TrialState.FAIL] == list(range(1, n, 4))  # NaN
    non_finite = [t for t in trials if t.state == TrialState.COMPLETE and not math.isfinite(t.value)]
    assert [t.number for t in non_finite] == list(range(3, n, 4))
    assert len({params_key(t.params) for t in trials}) == n  # none proposed again
    own = sampler.summary()["sampler"]
    assert own["trials_failed"] == n // 2 and own["errors"] == 0
    assert f"({n // 2} failed or without a finite value)" in sampler.summary_line()
    [warning] = messages(caplog, "non-finite")  # once per sampler
    assert "Trial 3 returned [inf]" in warning
    # The method saw them as failures: no prompt shows a non-finite score.
    lines = prompt_lines(fake_openai)
    assert not [line for line in lines if re.search(r"score -?(inf|nan)", line)]
    if sampler_class in (SEKISampler, CoLLMNASSampler):  # their prompts list failures (LAPT's: the top only)
        assert any("-> score failed (no finite score)" in line for line in lines)


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_a_study_where_every_trial_fails_keeps_proposing_new_configurations(fake_openai, sampler_class, caplog):
    def objective(trial: optuna.Trial) -> float:
        trial.suggest_categorical("op", OPS)
        trial.suggest_int("depth", 1, 6)
        raise RuntimeError("out of memory")

    n = 12
    sampler = sampler_class(seed=0, budget=n, llm=fake_openai.base_url, **short_run_kwargs(sampler_class))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with caplog.at_level(logging.WARNING):
        study.optimize(objective, n_trials=n, catch=(RuntimeError,))
    # Bad input is a message, never an ERROR record (LAPT's source step once failed an assertion).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(LIBRARY_LOGGERS)], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

    trials = study.trials
    assert [t.state for t in trials] == [TrialState.FAIL] * n
    assert all(valid_for_optuna(t) for t in trials)
    assert len({params_key(t.params) for t in trials}) == n
    own = sampler.summary()["sampler"]
    assert own["trials_failed"] == own["trials_finished"] == n and own["trials_proposed"] == n - 1
    assert own["errors"] == 0
    assert sampler.summary_line().startswith(f"{sampler.method.name} sampler: {n} trials finished ({n} failed")
    if fake_openai.chat_requests:  # the method told the LLM that they failed
        assert any("failed" in line for line in prompt_lines(fake_openai))


# --------------------------------------------------------------------------- constructors

COMMON_BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"budget": 0}, ValueError, "budget"),
    ({"budget": -1}, ValueError, "budget"),
    ({"budget": "10"}, ValueError, "budget"),
    ({"budget": True}, ValueError, "budget"),
    ({"budget": 2.5}, ValueError, "budget"),
    ({"temperature": -0.1}, ValueError, r"temperature must be a number in \[0, 2\]"),
    ({"temperature": 2.5}, ValueError, "temperature"),
    ({"temperature": "0.5"}, ValueError, "temperature"),
    ({"temperature": math.nan}, ValueError, "temperature"),
    ({"llm": "gtp-4o"}, ValueError, "llm must be one of"),
    ({"llm": ""}, ValueError, "llm must be one of"),
    ({"llm": "openai:"}, ValueError, "empty name after 'openai:'"),
    ({"llm": 42}, TypeError, "llm must be an LLM object, a spec string"),
    ({"max_calls_per_proposal": -1}, ValueError, "max_calls_per_proposal must be a finite number > 0"),
    ({"max_calls_per_proposal": 0}, ValueError, "max_calls_per_proposal"),
    ({"max_calls_per_proposal": math.nan}, ValueError, "max_calls_per_proposal"),
    ({"max_calls_per_proposal": math.inf}, ValueError, "max_calls_per_proposal"),
    ({"max_calls_per_proposal": True}, ValueError, "max_calls_per_proposal"),
    ({"max_calls_per_proposal": "1"}, ValueError, "max_calls_per_proposal"),
    ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
    ({"seed": "0"}, ValueError, "seed"),
    ({"task": 5}, ValueError, "task must be a string"),
    ({"use_llm": "no"}, ValueError, "use_llm must be True or False"),
    ({"prefetch": 1}, ValueError, "prefetch must be True or False"),
    ({"screen": "yes"}, ValueError, "screen must be True, False or a SurrogateScreen"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": "5"}, ValueError, "batch_size"),
    ({"population_size": 10}, TypeError, "unexpected keyword argument 'population_size'"),
]
SAMPLER_BAD = [
    ({"log_every": -1}, ValueError, "log_every"),
    ({"stop_when_exhausted": "no"}, ValueError, "stop_when_exhausted must be True or False"),
    ({"search_space": {"x": 1}}, ValueError, "search_space must map parameter names to optuna distributions"),
]
STRATEGY_BAD = [
    ({"optimize_mode": "max"}, ValueError, "optimize_mode must be 'maximize' or 'minimize'"),
]
METHOD_BAD = {
    "SEKI": [
        ({"self_evolution_fraction": 1.5}, ValueError, r"self_evolution_fraction must be a number in \[0, 1\]"),
        ({"self_evolution_fraction": "0.5"}, ValueError, "self_evolution_fraction"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_k": 3, "n_inspiration": 5}, ValueError, "n_inspiration"),
        ({"current": "worst"}, ValueError, "current must be 'best' or 'latest'"),
    ],
    "LAPT": [
        ({"population": 0}, ValueError, "population must be an integer >= 1"),
        ({"population": "5"}, ValueError, "population"),
        ({"tournament_size": 10}, ValueError, r"tournament_size \(10\) cannot exceed population \(5\)"),
        ({"warmup": -1}, ValueError, "warmup"),
        ({"adapt_every": 0}, ValueError, "adapt_every"),
        ({"max_options": 0}, ValueError, "max_options"),
        ({"source": 5}, ValueError, "source must be None"),
        ({"source": "/no/such/principles.json"}, ValueError, "cannot read principles"),
    ],
    "CoLLMNAS": [
        ({"round_size": 0}, ValueError, "round_size"),
        ({"navigator_memory": -1}, ValueError, "navigator_memory"),
        ({"target": math.nan}, ValueError, "target must be a finite number"),
        ({"resource_limit": 5}, ValueError, "resource_limit must be a callable"),
        ({"navigator_llm": "nonsense"}, ValueError, "llm must be one of"),
        ({"generator_llm": 5}, TypeError, "generator_llm must be an LLM object"),
    ],
    "GPTEA": [
        ({"population": 1}, ValueError, "population must be >= 2"),
        ({"population": 2.5}, ValueError, "population must be an integer"),
        ({"generations": 0}, ValueError, "generations"),
        ({"crossover_rate": 1.5}, ValueError, r"crossover_rate must be a probability in \[0, 1\]"),
        ({"rate0": -0.5}, ValueError, "rate0"),
        ({"mutation_rate": math.nan}, ValueError, "mutation_rate"),
        ({"prior": "gpt"}, ValueError, "prior must be 'llm', 'transformer'"),
        ({"prior": "transformer"}, ValueError, "needs corpus="),
        ({"corpus": [{"op": "conv"}]}, ValueError, "corpus= is only used with prior='transformer'"),
    ],
}


def _bad_arguments(cls: type) -> list[tuple[dict[str, Any], type[Exception], str]]:
    method = cls.__name__.removesuffix("Sampler").removesuffix("Strategy")
    host = SAMPLER_BAD if cls.__name__.endswith("Sampler") else STRATEGY_BAD
    return COMMON_BAD + host + METHOD_BAD[method]


@pytest.mark.parametrize("cls", SAMPLERS + STRATEGIES, ids=lambda c: c.__name__)
def test_invalid_constructor_arguments_name_the_argument(cls):
    wrong = []
    for kwargs, error, message in _bad_arguments(cls):
        try:
            cls(**kwargs)
        except Exception as exc:  # noqa: BLE001  (any other type or text is reported below)
            if not isinstance(exc, error) or not re.search(message, str(exc)):
                wrong.append(f"{kwargs}: {type(exc).__name__}: {exc}")
        else:
            wrong.append(f"{kwargs}: accepted")
    assert not wrong, "\n".join(wrong)


# --------------------------------------------------------------------------- NNI


class FixedNet(ModelSpace):
    """A model space with nothing to choose."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


class SixNets(ModelSpace):
    """6 architectures: an operation (3) and an activation (2)."""

    def __init__(self) -> None:
        super().__init__()
        self.op = LayerChoice([nn.Linear(4, 4), nn.Identity(), nn.Dropout(0.1)], label="op")
        self.act = self.add_mutable(nni.choice("act", ["relu", "tanh"]))

    def forward(self, x):
        return x


class RepeatedChoices(ModelSpace):
    """A conditional space: 1–3 blocks, each with its own activation choice; the choices of
    blocks beyond the depth are still labels of the space (NNI sets, then ignores, them)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = Repeat(lambda i: LayerChoice([nn.ReLU(), nn.Tanh()], label=f"act{i}"), (1, 3), label="depth")

    def forward(self, x):
        return self.blocks(x)


def _report_sample_score(model) -> None:
    sample = current_sample()
    nni.report_final_result(float(len(json.dumps(sample, sort_keys=True)) % 7))


def _nan_or_inf(model) -> None:
    sample = current_sample()
    if sample["op"] == 2:
        nni.report_final_result(math.nan)
    elif sample["act"] == "gelu":
        nni.report_final_result({"default": -math.inf, "depth": sample["depth"]})
    else:
        nni.report_final_result(score_of(sample))


def _always_fails(model) -> None:
    raise RuntimeError("out of memory")


def _space(model_space: ModelSpace, evaluator) -> SimplifiedModelSpace:
    return SimplifiedModelSpace.from_model(model_space, FunctionalEvaluator(evaluator))


def sample_key(sample: dict) -> str:
    return json.dumps({k: sorted(v) if isinstance(v, list) else v for k, v in sample.items()}, sort_keys=True)


@pytest.mark.parametrize("strategy_class", STRATEGIES, ids=lambda c: c.__name__)
def test_a_model_space_without_mutables_is_a_clear_error(strategy_class):
    strategy = strategy_class(seed=0, use_llm=False)
    engine = SequentialExecutionEngine(max_model_count=3)
    with pytest.raises(ValueError, match=r"FixedNet|nothing to search") as caught:
        strategy(_space(FixedNet(), _report_sample_score), engine)
    assert "nothing to search" in str(caught.value) and "LayerChoice" in str(caught.value)
    assert list(engine.list_models()) == [] and strategy.summary()["models"]["submitted"] == 0


@pytest.mark.parametrize("strategy_class", STRATEGIES, ids=lambda c: c.__name__)
def test_nan_and_inf_metrics_fail_the_model_and_never_reach_a_prompt(fake_openai, strategy_class):
    budget = 14
    strategy = strategy_class(seed=0, llm=fake_openai.base_url, **short_run_kwargs(strategy_class))
    strategy(_space(TinySpace(), _nan_or_inf), SequentialExecutionEngine(max_model_count=budget))

    records = strategy.records()
    assert len(records) == budget and len({sample_key(r["config"]) for r in records}) == budget
    bad = [r for r in records if r["config"]["op"] == 2 or r["config"]["act"] == "gelu"]
    assert bad, "the search never met a NaN or inf metric"
    assert all(r["state"] == "failed" and r["score"] is None for r in bad)
    assert all(r["state"] == "complete" and math.isfinite(r["score"]) for r in records if r not in bad)
    summary = strategy.summary()
    assert summary["models"]["failed"] == len(bad) and math.isfinite(summary["best"])
    assert not [line for line in prompt_lines(fake_openai) if re.search(r"score -?(inf|nan)", line)]


@pytest.mark.parametrize("strategy_class", STRATEGIES, ids=lambda c: c.__name__)
def test_a_search_where_every_model_fails_keeps_proposing_new_ones(fake_openai, strategy_class, caplog):
    budget = 10
    strategy = strategy_class(seed=0, llm=fake_openai.base_url, **short_run_kwargs(strategy_class))
    space = _space(TinySpace(), _always_fails)
    with caplog.at_level(logging.WARNING):
        strategy(space, SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(LIBRARY_LOGGERS)], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

    records = strategy.records()
    assert len(records) == budget and all(r["state"] == "failed" for r in records)
    assert len({sample_key(r["config"]) for r in records}) == budget
    for record in records:
        space.validate(record["config"])  # NNI accepts every submitted sample
    summary = strategy.summary()
    assert summary["models"] == {"submitted": budget, "complete": 0, "failed": budget, "running": 0}
    assert summary["best"] is None and not summary["space_exhausted"]


# SEKIStrategy on an exhausted 81-architecture space: tests/nni/test_nni_strategy.py.
@pytest.mark.parametrize("strategy_class", STRATEGIES[1:], ids=lambda c: c.__name__)
def test_a_budget_larger_than_the_model_space_stops_when_it_is_exhausted(fake_openai, strategy_class):
    strategy = strategy_class(seed=0, llm=fake_openai.base_url, **short_run_kwargs(strategy_class))
    engine = SequentialExecutionEngine(max_model_count=20)
    strategy(_space(SixNets(), _report_sample_score), engine)

    records = strategy.records()
    assert len(records) == 6 == len(list(engine.list_models()))
    assert len({sample_key(r["config"]) for r in records}) == 6
    summary = strategy.summary()
    assert summary["space_exhausted"] and "no new valid configuration" in summary["stopped"]
    assert summary["models"]["complete"] == 6


@pytest.mark.parametrize("strategy_class", STRATEGIES, ids=lambda c: c.__name__)
def test_choices_inside_repeated_blocks_are_searched_as_plain_labels(fake_openai, strategy_class):
    budget = 8
    strategy = strategy_class(seed=0, llm=fake_openai.base_url, **short_run_kwargs(strategy_class))
    space = _space(RepeatedChoices(), _report_sample_score)
    strategy(space, SequentialExecutionEngine(max_model_count=budget))

    records = strategy.records()
    assert len(records) == budget and all(r["state"] == "complete" for r in records)
    assert all(set(r["config"]) == {"depth", "act0", "act1", "act2"} for r in records)  # every label set
    assert len({sample_key(r["config"]) for r in records}) == budget
    for record in records:
        space.validate(record["config"])

