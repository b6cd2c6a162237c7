"""What an NNI user reads about each model: ``strategy.provenance()`` and the
``llmnas_provenance`` of the exported top models (source, a fallback's reason, the LLM's
rationale), kept across ``state_dict``."""

from __future__ import annotations

import re

import pytest

from nni.nas.execution import SequentialExecutionEngine
from nni_llm_strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy, SEKIStrategy

from .test_nni_strategy import tiny_space

STRATEGIES = [SEKIStrategy, LAPTStrategy, CoLLMNASStrategy, GPTEAStrategy]
SHORT = {LAPTStrategy: {"warmup": 3, "adapt_every": 3}, GPTEAStrategy: {"population": 4}}
LABEL = re.compile(r"^(llm|llm-reask|operator:[a-z-]+|screen|fallback|stand-in|restored|resubmitted)$")


@pytest.mark.parametrize("strategy_class", STRATEGIES, ids=lambda c: c.__name__)
def test_every_model_has_its_source_and_the_top_models_carry_it(fake_openai, strategy_class):
    budget = 12
    strategy = strategy_class(seed=0, llm=fake_openai.base_url, **SHORT.get(strategy_class, {}))
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True))

    table = strategy.provenance()
    assert [row["number"] for row in table] == [r["number"] for r in strategy.records()]
    assert len(table) == budget and all(LABEL.match(row["source"]) for row in table), table
    assert any(row["source"] in ("llm", "llm-reask", "operator:evolution") for row in table)
    assert all(bool(row["reason"]) == (row["source"] in ("fallback", "stand-in")) for row in table)
    assert all(len(row["rationale"]) <= 300 for row in table)
    if strategy_class in (SEKIStrategy, CoLLMNASStrategy):
        assert all(row["rationale"] for row in table if row["source"] == "llm")

    top = strategy.export_top_models(top_k=3)
    by_sample = {repr(sorted(row["config"].items())): row for row in table}
    for model in top:
        row = by_sample[repr(sorted(model.sample.items()))]
        assert model.llmnas_provenance == {k: row[k] for k in ("source", "reason", "rationale")}

    restored = strategy_class(seed=0, llm=fake_openai.base_url, **SHORT.get(strategy_class, {}))
    restored.load_state_dict(strategy.state_dict())
    restored.initialize(tiny_space(), SequentialExecutionEngine(max_model_count=budget))
    assert restored.provenance() == table


def test_nni_trace_records_carry_the_strategy_and_models(fake_openai, tmp_path, monkeypatch):
    import json

    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("LLMNAS_LLM_TRACE", str(trace))
    strategy = SEKIStrategy(seed=0, llm=fake_openai.base_url)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=6, continue_on_failure=True))
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert records and all(r["strategy"] == "SEKI" and re.match(r"^\d+-\d+$", r["models"]) for r in records)
