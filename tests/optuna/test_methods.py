"""LAPT, CoLLM-NAS and GPT-EA as Optuna samplers: what each adds on top of the host checks
(target and resource limit, principles from a finished study, the Transformer prior, several
objectives and constraints, knowledge through the storage)."""

from __future__ import annotations

import json
import logging

import optuna
import pytest

from llmnas.benchmarks import NasBench201Table
from llmnas.methods.lapt import inside, refined_space
from optuna_llm_samplers import (
    CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler, study_history, to_distributions,
)
from tests.optuna.conftest import EDGES, OPS, nas_objective, nas_score, params_key

ALL = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]


def cost(params: dict) -> int:
    return sum(params[e] in ("conv_3x3", "conv_1x1") for e in EDGES)


def test_collm_nas_stops_the_study_at_the_target(fake_openai):
    sampler = CoLLMNASSampler(llm=fake_openai.base_url, seed=0, target=40.0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=300)
    assert study.best_value >= 40.0
    assert len(study.trials) < 300, "study.stop() once the target is reached"
    assert len({params_key(t) for t in study.trials}) == len(study.trials)


def test_collm_nas_never_evaluates_over_the_resource_limit(fake_openai):
    limit = lambda params: cost(params) <= 2  # noqa: E731
    sampler = CoLLMNASSampler(llm=fake_openai.base_url, seed=0, resource_limit=limit,
                              resource_description="at most two convolutions",
                              search_space=to_distributions(_space()))  # so trial 0 is checked too
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=25)
    assert all(limit(t.params) for t in study.trials)
    assert sampler.summary()["pipeline"]["invalid"] > 0
    assert any("at most two convolutions" in json.dumps(r.body) for r in fake_openai.chat_requests)


def test_collm_nas_target_counts_only_feasible_trials(fake_openai):
    """Infeasible trials (``trial.set_constraint``) never reach the target, however good."""
    def objective(trial: optuna.Trial) -> float:
        value = nas_objective(trial)
        trial.set_constraint("convolutions", float(cost(trial.params) - 2))  # > 0: infeasible
        return value

    sampler = CoLLMNASSampler(llm=fake_openai.base_url, seed=0, target=30.0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=60)
    feasible = [t for t in study.trials if cost(t.params) <= 2]
    infeasible_best = max((t.value for t in study.trials if cost(t.params) > 2), default=0.0)
    assert infeasible_best >= 30.0, "some infeasible trial beat the target"
    if len(study.trials) < 60:  # stopped early: only because a feasible trial reached it
        assert max(t.value for t in feasible) >= 30.0
    else:
        assert all(t.value < 30.0 for t in feasible)


def test_lapt_learns_from_a_finished_study_and_its_principles_travel(fake_openai, tmp_path, caplog):
    source = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    source.optimize(nas_objective, n_trials=40)
    assert len(study_history(source).usable) == 40

    sampler = LAPTSampler(llm=fake_openai.base_url, seed=0, source=source, source_description="a similar task")
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=12)
    principles = sampler.principles(study)
    assert principles["provenance"]["source"] == "a similar task"
    assert principles["provenance"]["kind"] in ("learned", "updated", "explored", "kept")
    learn = next(r for r in fake_openai.chat_requests if "principles" in json.dumps(r.body["response_format"]))
    shown = learn.body["messages"][-1]["content"]
    best_source = max(source.trials, key=lambda t: t.value)
    assert all(best_source.params[e] in shown for e in EDGES[:1])

    path = sampler.export_principles(study, tmp_path / "p.json", note="toy task A")
    exported = json.loads(path.read_text())
    assert exported["provenance"]["exported"]["host"] == "Optuna"
    with caplog.at_level(logging.INFO, logger="llmnas"):
        target = optuna.create_study(direction="maximize",
                                     sampler=LAPTSampler(seed=0, use_llm=False, source=str(path)))
        target.optimize(nas_objective, n_trials=6)
    assert "note=toy task A" in caplog.text and "given principles from" in caplog.text
    whitelist = exported["whitelist"]
    size = refined_space(_space(), whitelist).size()  # the refined space, then the full one when exhausted
    assert sum(inside(_space(), whitelist, t.params) for t in target.trials[1:6]) >= min(5, size - 1)


def _space():
    from llmnas import Categorical, SearchSpace

    return SearchSpace([Categorical(e, list(OPS)) for e in EDGES])


def test_gpt_ea_with_a_transformer_prior_needs_no_llm(fake_openai):
    table = NasBench201Table("cifar10")
    sampler = GPTEASampler(llm=fake_openai.base_url, seed=0, budget=24, prior="transformer", corpus=table)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective(), n_trials=24)
    assert len({params_key(t) for t in study.trials}) == 24
    assert fake_openai.chat_requests == [], "the Transformer prior fills offspring; no LLM call"
    settings = sampler.summary()["settings"]
    assert settings["prior"] == "Transformer" and settings["prior_corpus"] == 200


def test_gpt_ea_prior_arguments_are_checked():
    with pytest.raises(ValueError, match="needs corpus"):
        GPTEASampler(prior="transformer")
    with pytest.raises(ValueError, match="prior must be"):
        GPTEASampler(prior="diffusion")
    with pytest.raises(ValueError, match="only used with"):
        GPTEASampler(corpus=[{"a": 1}])


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("sampler_class", ALL, ids=lambda c: c.__name__)
def test_every_sampler_on_two_objectives_shows_the_trade_off(fake_openai, sampler_class):
    sampler = sampler_class(llm=fake_openai.base_url, seed=0, budget=20)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.set_metric_names(["accuracy", "latency"])
    study.optimize(lambda t: (nas_objective(t), float(cost(t.params))), n_trials=20)
    assert len(study.trials) == 20 and len({params_key(t) for t in study.trials}) == 20
    assert study.best_trials
    prompts = [r.body["messages"][-1]["content"] for r in fake_openai.chat_requests]
    assert prompts, "the LLM was asked"
    assert any("objective 1 (accuracy): higher is better; objective 2 (latency): lower is better" in p
               and "Pareto" in p for p in prompts)


@pytest.mark.parametrize("sampler_class", [LAPTSampler, CoLLMNASSampler], ids=lambda c: c.__name__)
def test_knowledge_is_shared_through_a_journal_storage(fake_openai, tmp_path, sampler_class):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    first = optuna.create_study(study_name="s", storage=storage, direction="maximize",
                                sampler=sampler_class(llm=fake_openai.base_url, seed=0, budget=30))
    first.optimize(nas_objective, n_trials=15)
    written = first.sampler.knowledge(first).items()
    assert written, "the method wrote knowledge"
    second = optuna.load_study(study_name="s", storage=storage,
                               sampler=sampler_class(llm=fake_openai.base_url, seed=1, budget=30))
    assert second.sampler.knowledge(second).items() == written
    second.optimize(nas_objective, n_trials=15)
    assert len({params_key(t) for t in second.trials}) == 30


def test_the_score_of_a_trial_is_what_the_objective_returned():
    sampler = CoLLMNASSampler(seed=0, use_llm=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=10)
    assert all(t.value == nas_score(t.params) for t in study.trials)


def test_configurations_the_host_picks_respect_the_resource_limit_too():
    """When the method has nothing new (here: every configuration within the limit tried),
    the sampler's own fallback must not pick an over-limit one, and the study stops."""
    from llmnas import Categorical, SearchSpace

    space = SearchSpace([Categorical(f"e{i}", [1, 2, 3]) for i in range(3)])
    limit = lambda params: sum(params.values()) <= 4  # noqa: E731 - 4 of 27 configurations
    sampler = CoLLMNASSampler(seed=0, use_llm=False, resource_limit=limit, search_space=to_distributions(space))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: float(sum(t.suggest_categorical(f"e{i}", [1, 2, 3]) for i in range(3))), n_trials=12)
    assert all(limit(t.params) for t in study.trials), "the re-evaluated one too"
    assert len({params_key(t) for t in study.trials[:4]}) == 4
    assert len(study.trials) <= 5, "stopped once the configurations within the limit were all tried"


@pytest.mark.parametrize("sampler_class", ALL, ids=lambda c: c.__name__)
def test_every_sampler_with_constraints(fake_openai, sampler_class):
    """Constraints (``trial.set_constraint``) with every sampler: every trial completes, none
    repeats, and the LLM is told which trials violated a constraint."""
    def objective(trial: optuna.Trial) -> float:
        value = nas_objective(trial)
        trial.set_constraint("convolutions", float(cost(trial.params) - 2))
        return value

    sampler = sampler_class(llm=fake_openai.base_url, seed=0, budget=24)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=24)
    assert len(study.trials) == 24 and len({params_key(t) for t in study.trials}) == 24
    assert any(cost(t.params) > 2 for t in study.trials), "some trial violated the constraint"
    text = "\n".join(json.dumps(r.body) for r in fake_openai.chat_requests)
    # (GPT-EA's evolution prompts show only the best, feasible first; the generation 0 that the
    # trust rule lets its LLM write shows the trials so far, violations labelled)
    assert "violates a constraint" in text
