"""Knowledge that transfers: what the LLM wrote in one study (SEKI's strategies and patterns,
LAPT's principles, the CoLLM-NAS Navigator's strategy) exported to a file by one host and
imported by a study of the other host as prior knowledge (``load(path, transfer=True)``)."""

from __future__ import annotations

import optuna
import pytest

from llmnas import InMemoryKnowledge
from llmnas.benchmarks import NasBench201Table
from llmnas.knowledge import TRANSFER_PREFIX
from nni.nas.execution import SequentialExecutionEngine
from nni.nas.space import RawFormatModelSpace
from nni_llm_strategies import CoLLMNASStrategy, LAPTStrategy, SEKIStrategy
from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space
from optuna_llm_samplers import CoLLMNASSampler, LAPTSampler, SEKISampler, StudyKnowledge

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def table() -> NasBench201Table:
    return NasBench201Table("cifar10")


def nni_search(strategy, table: NasBench201Table, budget: int):
    space = RawFormatModelSpace.from_model(nas_bench_201_space(), nas_bench_201_evaluator("cifar10", path=table.file))
    strategy(space, SequentialExecutionEngine(max_model_count=budget))
    return strategy


def purpose(request) -> str:
    return request.body["response_format"]["json_schema"]["name"]


def test_load_as_transfer_keeps_another_studys_steps_apart(tmp_path):
    source = InMemoryKnowledge({"seki/strategy/0": "wide convolutions", "transfer/seki/strategy/0": "older"})
    path = source.export(tmp_path / "k.json", provenance={"host": "NNI"})
    target = InMemoryKnowledge()
    assert target.load(path, transfer=True) == {"host": "NNI"}
    items = target.items()
    assert items["transfer/seki/strategy/0"] == "wide convolutions"
    assert "seki/strategy/0" not in items, "never mistaken for this study's own step 0"
    assert "transfer/transfer/seki/strategy/0" not in items, "what that study imported is not carried on"
    assert items["transfer/provenance"]["file"] == str(path)
    assert target.transferred("seki/strategy") == (0, "wide convolutions")
    with pytest.raises(ValueError, match="cannot read a knowledge file"):
        target.load(tmp_path / "missing.json")


def test_seki_knowledge_from_nni_steers_an_optuna_study(fake_openai, table, tmp_path):
    # trust=False: every batch asks the LLM, so SEKI writes its repository as the paper does
    strategy = nni_search(SEKIStrategy(seed=0, llm=fake_openai.base_url, budget=20, trust=False), table, 20)
    knowledge = strategy.knowledge.items()
    last_strategy = knowledge[max((k for k in knowledge if k.startswith("seki/strategy/")),
                                  key=lambda k: int(k.rsplit("/", 1)[1]))]
    assert any(k.startswith("seki/repository/") for k in knowledge), "the repository is knowledge too"
    path = strategy.knowledge.export(tmp_path / "seki.json", provenance={"host": "NNI", "dataset": "cifar10"})
    fake_openai.reset()

    study = optuna.create_study(direction="maximize", sampler=SEKISampler(seed=0, llm=fake_openai.base_url, budget=30))
    StudyKnowledge.of(study).load(path, transfer=True)
    study.optimize(NasBench201Table("cifar100", path=table.file).optuna_objective(), n_trials=30)
    first = next(r for r in fake_openai.chat_requests if purpose(r) == "strategy")
    prompt = first.body["messages"][-1]["content"]
    assert "Knowledge from an earlier search on a related task" in prompt and last_strategy in prompt
    later = [r for r in fake_openai.chat_requests if purpose(r) == "strategy"][1:]
    assert later and all("earlier search" not in r.body["messages"][-1]["content"] for r in later), \
        "once the study has its own strategy, it refines that one"


def test_the_navigators_strategy_from_optuna_opens_an_nni_search(fake_openai, table, tmp_path):
    sampler = CoLLMNASSampler(seed=0, llm=fake_openai.base_url, budget=10)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective(), n_trials=10)
    last = sampler.navigator_log(study)[-1]["strategy"]
    path = StudyKnowledge.of(study).export(tmp_path / "collm.json", provenance={"host": "Optuna"})
    fake_openai.reset()

    strategy = CoLLMNASStrategy(seed=0, llm=fake_openai.base_url, trust=False)  # a Navigator call each round
    strategy.knowledge.load(path, transfer=True)
    nni_search(strategy, table, 10)
    opening = next(r for r in fake_openai.chat_requests if purpose(r) == "navigator").body["messages"][1]["content"]
    assert "A strategy from an earlier search on a related task" in opening
    assert last["directions"] in opening
    assert [r["round"] for r in strategy.navigator_log()] == [0, 1], "its own rounds start at 0"


def test_lapt_principles_imported_as_knowledge_replace_the_warm_start(fake_openai, table, tmp_path, caplog):
    import logging

    source = optuna.create_study(direction="maximize", sampler=LAPTSampler(
        seed=0, llm=fake_openai.base_url, budget=20, source=table.top_pairs(50)))
    source.optimize(NasBench201Table("cifar100", path=table.file).optuna_objective(), n_trials=12)
    path = StudyKnowledge.of(source).export(tmp_path / "lapt.json")
    whitelist = source.sampler.principles(source)["whitelist"]

    strategy = LAPTStrategy(seed=0, use_llm=False)  # no source: would warm-start for 10 models
    strategy.knowledge.load(path, transfer=True)
    with caplog.at_level(logging.INFO, logger="llmnas"):
        nni_search(strategy, table, 6)
    assert "using the given principles from imported knowledge" in caplog.text
    first = strategy.knowledge.get("lapt/principles/0")  # from the first model on: no warm start
    assert first["provenance"]["kind"] == "given" and first["whitelist"] == whitelist
    assert not any(k.startswith(TRANSFER_PREFIX + "transfer/") for k in strategy.knowledge.items())
