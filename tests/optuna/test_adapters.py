"""The adapter pieces: distributions ↔ core space, validation, knowledge store, ask-and-tell."""

from __future__ import annotations

import doctest
import textwrap
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from llmnas.space import Categorical, Float, Integer
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, LLMSampler, SEKISampler, StudyKnowledge
from optuna_llm_samplers import _knowledge as _knowledge_module
from optuna_llm_samplers import _space as _space_module
from optuna_llm_samplers._space import (
    enumerate_configs,
    known_distributions,
    make_validator,
    to_dimension,
    to_search_space,
    value_problems,
)
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import OddDistribution, params_key


def test_distributions_become_core_dimensions() -> None:
    assert to_dimension("op", CategoricalDistribution([None, True, 3, 2.5, "conv"])) == Categorical(
        "op", [None, True, 3, 2.5, "conv"]
    )
    assert to_dimension("n", IntDistribution(3, 21, step=3)) == Integer("n", 3, 21, 3, False)
    assert to_dimension("c", IntDistribution(4, 256, log=True)) == Integer("c", 4, 256, 1, True)
    assert to_dimension("d", FloatDistribution(0.0, 0.5, step=0.1)) == Float("d", 0.0, 0.5, 0.1, False)
    assert to_dimension("lr", FloatDistribution(1e-5, 1e-1, log=True)) == Float("lr", 1e-5, 1e-1, None, True)
    with pytest.raises(TypeError, match="'x': OddDistribution is not supported.*suggest_categorical"):
        to_dimension("x", OddDistribution())


def test_values_are_checked_with_optunas_own_rules() -> None:
    assert value_problems("n", IntDistribution(3, 21, step=3), 9) == []
    assert value_problems("n", IntDistribution(3, 21, step=3), 10)  # off the grid
    assert value_problems("n", IntDistribution(3, 21, step=3), 24)  # out of range
    assert value_problems("n", IntDistribution(3, 21), 4.0)  # not an int
    assert value_problems("n", IntDistribution(0, 1), True)  # a bool is not an int
    assert value_problems("d", FloatDistribution(0.0, 0.5, step=0.1), 0.30000000000000004) == []
    assert value_problems("d", FloatDistribution(0.0, 0.5, step=0.1), 0.1234)
    assert value_problems("op", CategoricalDistribution([1, "1"]), "1") == []
    assert value_problems("op", CategoricalDistribution([1, 2]), 3)
    assert value_problems("op", CategoricalDistribution([True, 2]), 1)  # 1 == True, but not the choice
    validate = make_validator({"n": IntDistribution(1, 4), "op": CategoricalDistribution(["a", "b"])},
                              extra=lambda c: ["taken"] if c == {"n": 1, "op": "a"} else [])
    assert validate({"n": 2, "op": "b"}) == []
    assert validate({"n": 9, "op": "b"}) and validate({"n": 1, "op": "a"}) == ["taken"]


def test_the_known_space_is_the_union_with_latest_ranges() -> None:
    study = optuna.create_study()
    study.add_trial(optuna.create_trial(
        params={"kind": "conv", "kernel": 3, "n": 2},
        distributions={"kind": CategoricalDistribution(["conv", "pool"]), "kernel": CategoricalDistribution([1, 3]),
                       "n": IntDistribution(1, 4)}, value=1.0))
    study.add_trial(optuna.create_trial(
        params={"kind": "pool", "pool": "max", "n": 7},
        distributions={"kind": CategoricalDistribution(["conv", "pool"]), "pool": CategoricalDistribution(["avg", "max"]),
                       "n": IntDistribution(1, 8)}, value=2.0))
    known = known_distributions(study.trials)
    assert list(known) == ["kind", "kernel", "n", "pool"]
    assert known["n"] == IntDistribution(1, 8)
    space = to_search_space(known)
    assert space.size() == 2 * 2 * 8 * 2
    assert len(list(enumerate_configs(space, 100))) == 64
    assert enumerate_configs(space, 10) is None
    assert enumerate_configs(to_search_space({"x": FloatDistribution(0, 1)}), 100) is None


def test_an_unsupported_distribution_is_a_clear_error() -> None:
    sampler = SEKISampler(seed=0, use_llm=False)
    study = optuna.create_study(sampler=sampler)
    trial = study.ask()
    with pytest.raises(TypeError, match="not supported by the LLM samplers"):
        sampler.sample_relative(study, study._storage.get_trial(trial._trial_id), {"x": OddDistribution()})


def test_knowledge_store_rules() -> None:
    study = optuna.create_study()
    knowledge = StudyKnowledge.of(study)
    assert knowledge.get("a") is None and knowledge.items() == {}
    assert knowledge.put("a", None) is None  # a stored null is a value, and it wins
    assert knowledge.put("a", 1) is None
    assert knowledge.put("seki/strategy/2", "x") == "x"
    assert knowledge.put("seki/strategy/10", "y") == "y"
    assert knowledge.latest("seki/strategy") == (10, "y")
    with pytest.raises(TypeError):
        knowledge.put("b", {1, 2})  # not JSON
    with pytest.raises(ValueError, match="non-empty string"):
        knowledge.put("", 1)
    # Entries live in the study's system attributes, one per write.
    attrs = study._storage.get_study_system_attrs(study._study_id)
    assert sum(k.startswith("llmnas:knowledge:a@") for k in attrs) == 1


def test_ask_and_tell_and_enqueued_trials() -> None:
    sampler = SEKISampler(seed=0, use_llm=False)
    study = optuna.create_study(sampler=sampler)
    study.enqueue_trial({"a": 1, "b": "x"})
    for _ in range(8):
        trial = study.ask()
        value = trial.suggest_int("a", 0, 3) + len(trial.suggest_categorical("b", ["x", "yy"]))
        study.tell(trial, value)
    assert study.trials[0].params == {"a": 1, "b": "x"}
    assert len({params_key(t) for t in study.trials}) == 8
    # Exhausted outside Study.optimize: nothing to stop; the next trial re-evaluates (counted).
    trial = study.ask()
    trial.suggest_int("a", 0, 3)
    trial.suggest_categorical("b", ["x", "yy"])
    study.tell(trial, 0.0)
    assert study.trials[-1].state == TrialState.COMPLETE
    assert sampler.summary()["sampler"]["exhausted_trials"] == 1


def test_reseed_changes_the_random_stream_but_keeps_the_counts() -> None:
    sampler = SEKISampler(seed=0, use_llm=False)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    before = sampler.summary()
    sampler.reseed_rng()
    assert sampler.summary()["sampler"] == before["sampler"]
    dist = FloatDistribution(0, 1)
    a = SEKISampler(seed=5, use_llm=False)
    b = SEKISampler(seed=5, use_llm=False)
    trial = study.ask()
    frozen = study._storage.get_trial(trial._trial_id)
    assert a.sample_independent(study, frozen, "y", dist) == b.sample_independent(study, frozen, "y", dist)
    b.reseed_rng()
    assert a.sample_independent(study, frozen, "y", dist) != b.sample_independent(study, frozen, "y", dist)


def _code_block(doc: str) -> str:
    """The first ``.. code-block:: python`` of a docstring, dedented."""
    lines = doc.split(".. code-block:: python", 1)[1].splitlines()[1:]
    block: list[str] = []
    for line in lines:
        if line.strip() and not line.startswith(" " * 12):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


@pytest.mark.parametrize("module", [_space_module, _knowledge_module])
def test_docstring_doctests(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def test_docstring_examples_run(llm_env: FakeOpenAIServer) -> None:
    first: dict = {}
    exec(compile(_code_block(LLMSampler.__doc__ or ""), "LLMSampler example", "exec"), first)
    assert set(first["best"]) == {"op0", "op1", "op2"} and first["fallback_rate"] == 1.0  # use_llm=False
    # SEKISampler's example resolves its LLM from the environment: here, the fake server.
    second: dict = {}
    exec(compile(_code_block(SEKISampler.__doc__ or ""), "SEKISampler example", "exec"), second)
    assert llm_env.chat_requests and len(second["best"]) == 6
    assert second["usage"]["calls"] == len(llm_env.chat_requests) > 0


@pytest.mark.parametrize("sampler_class", [LAPTSampler, CoLLMNASSampler, GPTEASampler])
def test_method_sampler_examples_run(
    sampler_class: type, llm_env: FakeOpenAIServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other three samplers' examples, as written, against the fake endpoint."""
    monkeypatch.chdir(tmp_path)  # LAPT's example writes principles.json
    scope: dict = {}
    exec(compile(_code_block(sampler_class.__doc__ or ""), f"{sampler_class.__name__} example", "exec"), scope)
    study = scope["study"]
    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert finished and len({params_key(t) for t in finished}) == len(finished)
    assert isinstance(scope["sampler"], sampler_class)
    if sampler_class is LAPTSampler:
        assert (tmp_path / "principles.json").is_file()
    # GPT-EA's example uses the Transformer prior: no LLM call; the other two ask the endpoint.
    assert bool(llm_env.chat_requests) == (sampler_class is not GPTEASampler)
