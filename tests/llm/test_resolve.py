"""resolve_llm: spec strings, objects and the environment."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmnas.llm import LLM, LLMError, LLMResponse, LocalLLM, OpenAIChatLLM, UsageMeter, resolve_llm
from llmnas.llm import resolve as resolve_module
from tests.fake_openai import FakeOpenAIServer

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def _fresh_log_once() -> Iterator[None]:
    resolve_module._logged.clear()
    yield
    resolve_module._logged.clear()


def choices(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("LLM: ")]


def test_nothing_configured_gives_the_local_model(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="llmnas"):
        llm = resolve_llm()
        resolve_llm()
    assert isinstance(llm, LocalLLM) and llm.model == "smollm2"
    messages = choices(caplog)
    assert len(messages) == 1  # logged once per process
    assert "embedded local model smollm2" in messages[0]
    assert "no OPENAI_BASE_URL or OPENAI_API_KEY set" in messages[0]
    assert "demo" in messages[0]


def test_base_url_and_model_from_the_environment(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("LLMNAS_MODEL", "my-model")
    with caplog.at_level(logging.INFO, logger="llmnas"):
        llm = resolve_llm(seed=3)
        resolve_llm(seed=3)
    assert isinstance(llm, OpenAIChatLLM) and llm.model == "my-model"
    assert choices(caplog) == [f"LLM: openai:my-model at {fake_openai.base_url} (from OPENAI_BASE_URL/LLMNAS_MODEL)"]
    llm.complete(MESSAGES)
    body = fake_openai.chat_requests[0].body
    assert body["model"] == "my-model" and body["seed"] == 3
    assert fake_openai.chat_requests[0].headers["authorization"] == "Bearer EMPTY"


def test_api_key_alone_means_openai(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-env-key-0123456789")
    with caplog.at_level(logging.INFO, logger="llmnas"):
        llm = resolve_llm()
    assert isinstance(llm, OpenAIChatLLM) and llm.model == "gpt-4o-mini"
    assert llm.description == "openai:gpt-4o-mini @ https://api.openai.com/v1"
    message = choices(caplog)[0]
    assert "OPENAI_API_KEY" in message and "sk-test-env-key" not in message


def test_openai_spec(fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    llm = resolve_llm("openai:gpt-test")
    assert isinstance(llm, OpenAIChatLLM) and llm.model == "gpt-test"
    assert llm.complete(MESSAGES).text


def test_url_spec_takes_the_first_listed_model(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(models=["first-model", "second-model"]) as server:
        llm = resolve_llm(server.base_url)
        assert isinstance(llm, OpenAIChatLLM) and llm.model == "first-model"
        assert any(r.method == "GET" and r.path.endswith("/models") for r in server.requests)
        monkeypatch.setenv("LLMNAS_MODEL", "chosen")
        assert resolve_llm(server.base_url).model == "chosen"


def test_url_spec_with_nothing_listening_names_the_fix() -> None:
    with pytest.raises(LLMError, match="LLMNAS_MODEL"):
        resolve_llm("http://127.0.0.1:9/v1")


def test_local_specs(tmp_path: Path) -> None:
    assert resolve_llm("local").model == "smollm2"
    assert resolve_llm("local:gemma3-270m").model == "gemma3-270m"
    path = tmp_path / "tiny.gguf"
    llm = resolve_llm(f"local:{path}", seed=5)
    assert isinstance(llm, LocalLLM) and llm.model == str(path) and llm.model_seed == 5


def test_an_object_is_returned_as_is() -> None:
    class Fixed:
        description = "fixed"
        usage = UsageMeter()

        def complete(self, messages: Any, **kwargs: Any) -> LLMResponse:
            return LLMResponse(text="{}", data={})

    fixed = Fixed()
    assert isinstance(fixed, LLM)
    assert resolve_llm(fixed) is fixed


@pytest.mark.parametrize("spec", ["gpt-4o", "openai:", "local:", "ftp://host/v1", 42, "local:no-such-model"])
def test_anything_else_is_refused(spec: Any) -> None:
    with pytest.raises(ValueError):
        resolve_llm(spec)


def test_the_error_lists_the_accepted_forms() -> None:
    with pytest.raises(ValueError) as info:
        resolve_llm("nonsense")
    for form in ("'local'", "openai:<model>", "http(s)://", "None"):
        assert form in str(info.value)


def test_cache_and_trace_from_the_environment(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("LLMNAS_LLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LLMNAS_LLM_TRACE", str(tmp_path / "trace.jsonl"))
    llm = resolve_llm()
    llm.complete(MESSAGES)
    assert (tmp_path / "trace.jsonl").read_text().count("\n") == 1
    assert list((tmp_path / "cache").rglob("*.json"))
    explicit = resolve_llm(trace=tmp_path / "other.jsonl")
    assert isinstance(explicit, OpenAIChatLLM) and explicit.trace_path == tmp_path / "other.jsonl"
    monkeypatch.setenv("LLMNAS_LLM_CACHE_MODE", "replay")
    replay = resolve_llm()
    assert replay.complete(MESSAGES).cached
