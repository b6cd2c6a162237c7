"""What a user sees in Optuna's own tools: every trial's source (``llmnas_source``), the LLM's
reasoning behind its proposals (``llmnas_rationale``), a fallback's reason, and the LLM in use
with its calls and tokens as study user attributes; ``constraints_func=`` on every sampler."""

from __future__ import annotations

import json
import re

import optuna
import pytest

from llmnas.llm import OpenAIChatLLM
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.fake_openai import Status
from tests.optuna.conftest import EDGES, OPS, nas_objective, nas_score

SAMPLERS = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]
SHORT = {LAPTSampler: {"warmup": 3, "adapt_every": 3}, GPTEASampler: {"population": 4}}
LABEL = re.compile(r"^(llm|llm-reask|operator:[a-z-]+|screen|fallback|stand-in|fixed|random|exhausted|none)$")


@pytest.mark.parametrize("screen", [False, True], ids=["plain", "screen"])
@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_every_trial_has_its_source_in_trials_dataframe(llm_env, sampler_class, screen: bool) -> None:
    n = 14
    # (with the screen, trust off: a trusted LLM's answers pass the screen, and this checks its picks' labels)
    sampler = sampler_class(seed=0, budget=n, screen=screen, trust=not screen,
                            **SHORT.get(sampler_class, {}))  # llm from the env
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial({e: "conv_3x3" for e in EDGES})
    study.optimize(nas_objective, n_trials=n)

    frame = study.trials_dataframe()
    labels = frame["user_attrs_llmnas_source"].tolist()
    assert len(labels) == n and all(isinstance(x, str) and LABEL.match(x) for x in labels), labels
    assert labels[0] == "fixed"  # the enqueued trial
    if sampler_class is LAPTSampler and screen:  # the paper's loop: the LLM writes principles; evolution searches inside them
        assert any(t.user_attrs["llmnas_source"] == "operator:evolution" and t.user_attrs.get("llmnas_rationale")
                   for t in study.trials), labels
    elif sampler_class is LAPTSampler:  # the trust rule's first batch: the LLM writes the warm start's architectures
        assert "llm" in labels
    else:
        assert "llm" in labels or "llm-reask" in labels
    for trial in study.trials:
        attrs = trial.user_attrs
        assert ("llmnas_reason" in attrs) == (attrs["llmnas_source"] in ("fallback", "stand-in")), attrs
        assert len(attrs.get("llmnas_rationale", "")) <= 300
    if sampler_class in (SEKISampler, CoLLMNASSampler):  # the strategy the LLM proposals apply
        assert all(t.user_attrs.get("llmnas_rationale") for t in study.trials if t.user_attrs["llmnas_source"] == "llm")
    if screen:  # the screen's own picks are labelled as such, never as the LLM's
        picked = sampler.summary()["pipeline"]["fallback_reasons"].get(
            "the surrogate screen preferred the operator's candidate", 0)
        assert 1 <= labels.count("screen") <= picked, (labels, picked)
    else:
        assert "screen" not in labels

    attrs = study.user_attrs
    port = llm_env.base_url.split(":")[2].split("/")[0]
    assert attrs["llmnas_llm_model"] == "fake-model" and attrs["llmnas_llm_endpoint"] == f"127.0.0.1:{port}"
    assert attrs["llmnas_method"] == sampler.method.name
    summary = sampler.summary()
    assert attrs["llmnas_llm_calls"] == summary["pipeline"]["llm_calls"] >= 1
    usage = summary["llm_usage"]
    assert attrs["llmnas_llm_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert "sk-test" not in json.dumps(attrs)
    # Our own attributes are provenance, not metrics: no prompt shows them.
    assert not [r for r in llm_env.chat_requests if "llmnas_" in json.dumps(r.body)]


def test_first_trials_of_a_define_by_run_study_and_empty_trials_are_labelled(llm_env) -> None:
    sampler = SEKISampler(seed=0, budget=6)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda trial: 1.0, n_trials=1)  # suggests nothing
    study.optimize(nas_objective, n_trials=3)
    labels = [t.user_attrs["llmnas_source"] for t in study.trials]
    assert labels[0] == "none" and labels[1] == "random" and labels[1:].count("random") == 1
    assert study.trials[1].user_attrs["llmnas_reason"] == "the study knew no search space yet"


def test_a_failing_llm_shows_as_fallbacks_with_their_reason(fake_openai) -> None:
    fake_openai.script([Status(500)] * 60)
    llm = OpenAIChatLLM("fake-model", base_url=fake_openai.base_url, max_retries=0)
    sampler = SEKISampler(seed=0, budget=8, llm=llm)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=8)
    later = [t.user_attrs for t in study.trials[1:]]  # stand-ins in the LLM's slots, the operator's fallbacks
    assert all(a["llmnas_source"] in ("fallback", "stand-in") and a["llmnas_reason"] for a in later), later
    assert any(a["llmnas_source"] == "stand-in" and a["llmnas_reason"] == "LLM call failed or answer unusable"
               for a in later), later
    assert not any("llmnas_rationale" in a for a in later)
    assert sampler.summary()["pipeline"]["llm_errors"] >= 1


# --------------------------------------------------------------------------- constraints_func


def _constraint(params: dict) -> float:
    return float(sum(params[e] == "conv_3x3" for e in EDGES) - 1)  # > 0: more than one conv_3x3


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_constraints_func_is_used_as_set_constraint(sampler_class) -> None:
    """Same seed, LLM off: a study with ``constraints_func`` stores the same constraint values
    as one whose objective calls ``trial.set_constraint``, and the method proposes the same
    configurations (it sees the same feasibility)."""
    def with_set_constraint(trial: optuna.Trial) -> float:
        params = {e: trial.suggest_categorical(e, list(OPS)) for e in EDGES}
        trial.set_constraint("0", _constraint(params))
        return nas_score(params)

    n = 16
    runs = []
    for objective, func in ((with_set_constraint, None), (nas_objective, lambda t: [_constraint(t.params)])):
        sampler = sampler_class(seed=1, budget=n, use_llm=False, constraints_func=func,
                                **SHORT.get(sampler_class, {}))
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=n)
        runs.append(study)
    plain, by_func = runs
    assert [t.params for t in by_func.trials] == [t.params for t in plain.trials]
    assert [t.constraints for t in by_func.trials] == [t.constraints for t in plain.trials]
    assert all(t.constraints == {"0": _constraint(t.params)} for t in by_func.trials)
    assert any(v > 0 for t in by_func.trials for v in t.constraints.values())  # some were infeasible


def test_constraints_func_steers_collm_nas_target_to_feasible_trials() -> None:
    """CoLLM-NAS stops at its target only with a feasible trial: constraints from
    ``constraints_func`` count like ``set_constraint``."""
    best_infeasible = {e: "conv_3x3" for e in EDGES}
    sampler = CoLLMNASSampler(seed=0, budget=10, use_llm=False, target=nas_score(best_infeasible) - 1,
                              constraints_func=lambda t: [_constraint(t.params)])
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(best_infeasible)
    study.optimize(nas_objective, n_trials=4)
    assert len(study.trials) == 4  # the infeasible best did not reach the target


@pytest.mark.parametrize("sampler_class", SAMPLERS, ids=lambda c: c.__name__)
def test_a_constraints_func_that_is_not_callable_is_a_clear_error(sampler_class) -> None:
    with pytest.raises(ValueError, match="constraints_func must be a function"):
        sampler_class(constraints_func=[1.0])


def test_a_constraints_func_that_raises_costs_no_trial(caplog) -> None:
    def broken(trial):
        raise KeyError("flops")

    sampler = SEKISampler(seed=0, budget=4, use_llm=False, constraints_func=broken)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=4)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert any("constraints_func raised KeyError" in r.getMessage() for r in caplog.records)


def test_trace_records_carry_the_study_and_trial(llm_env, tmp_path, monkeypatch) -> None:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("LLMNAS_LLM_TRACE", str(trace))
    study = optuna.create_study(study_name="traced", direction="maximize", sampler=SEKISampler(seed=0, budget=6))
    study.optimize(nas_objective, n_trials=6)
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert records and all(r["study"] == "traced" and r["study_id"] == study._study_id for r in records)
    numbers = {t.number for t in study.trials}
    assert all(r["trial"] in numbers for r in records)
    asked = {r["trial"] for r in records}  # each call was made for a trial the LLM's answer served
    assert all(study.trials[n].user_attrs["llmnas_source"] in ("llm", "llm-reask", "fallback") for n in asked)
