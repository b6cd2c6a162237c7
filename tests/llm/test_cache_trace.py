"""The response cache, the JSONL trace, and that the API key is never written anywhere."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from llmnas.llm import LLMError, OpenAIChatLLM
from tests.fake_openai import Answer, FakeOpenAIServer, Status, Truncated

KEY = "sk-test-SECRET-fedcba9876543210"
MESSAGES = [{"role": "user", "content": "Propose two widths."}]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"widths": {"type": "array", "minItems": 2, "maxItems": 2,
                              "items": {"type": "integer", "minimum": 8, "maximum": 128}}},
    "required": ["widths"],
}


def make(server: FakeOpenAIServer, **kwargs: Any) -> OpenAIChatLLM:
    options: dict[str, Any] = {"api_key": KEY, "timeout": 2.0, "backoff_initial": 0.01, "backoff_max": 0.02}
    options.update(kwargs)
    return OpenAIChatLLM("fake-model", base_url=server.base_url, **options)


def test_cache_readwrite_then_replay(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    writer = make(fake_openai, cache=cache)
    first = [writer.complete(MESSAGES, schema=SCHEMA, seed=s) for s in range(3)]
    assert len(fake_openai.chat_requests) == 3 and not any(r.cached for r in first)

    again = writer.complete(MESSAGES, schema=SCHEMA, seed=1)  # readwrite serves hits too
    assert again.cached and again.data == first[1].data and again.latency_s == 0.0
    assert len(fake_openai.chat_requests) == 3

    replay = make(fake_openai, cache=cache, cache_mode="replay")
    replayed = [replay.complete(MESSAGES, schema=SCHEMA, seed=s) for s in range(3)]
    assert [r.text for r in replayed] == [r.text for r in first]
    assert [r.data for r in replayed] == [r.data for r in first]
    assert all(r.cached for r in replayed)
    assert len(fake_openai.chat_requests) == 3  # zero new requests
    assert replay.usage.cache_hits == 3 and replay.usage.calls == 3
    assert replay.usage.prompt_tokens == sum(r.usage.prompt_tokens for r in first)  # usage as originally spent

    with pytest.raises(LLMError, match="replay miss"):
        replay.complete(MESSAGES, schema=SCHEMA, seed=99)
    assert len(fake_openai.chat_requests) == 3  # a miss never contacts the endpoint
    assert replay.usage.errors == 1


def test_cache_key_covers_the_request_but_not_the_key(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    a = make(fake_openai, cache=tmp_path)
    b = OpenAIChatLLM("fake-model", base_url=fake_openai.base_url, api_key="sk-another-key-123456789", cache=tmp_path)
    key = a.request_key(MESSAGES, schema=SCHEMA, temperature=0.5, seed=1, max_tokens=100)
    assert key == b.request_key(MESSAGES, schema=SCHEMA, temperature=0.5, seed=1, max_tokens=100)
    for change in ({"seed": 2}, {"temperature": 0.6}, {"max_tokens": 101}, {"schema": None}):
        options: dict[str, Any] = {"schema": SCHEMA, "temperature": 0.5, "seed": 1, "max_tokens": 100}
        options.update(change)
        assert a.request_key(MESSAGES, **options) != key
    assert a.request_key([{"role": "user", "content": "other"}], schema=SCHEMA, temperature=0.5, seed=1,
                         max_tokens=100) != key


def test_trace_records_every_exchange(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    trace = tmp_path / "logs" / "trace.jsonl"
    llm = make(fake_openai, trace=trace, cache=tmp_path / "cache", max_retries=1)
    llm.complete(MESSAGES, schema=SCHEMA, schema_name="widths", seed=1)
    llm.complete(MESSAGES, schema=SCHEMA, schema_name="widths", seed=1)  # cache hit
    fake_openai.script([Truncated()])
    llm.complete(MESSAGES, schema=SCHEMA, seed=2)
    fake_openai.script([Status(503), Status(503)])
    with pytest.raises(LLMError):
        llm.complete(MESSAGES, schema=SCHEMA, seed=3)
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(records) == 4
    first, hit, truncated, failed = records
    expected_keys = {"time", "backend", "model", "mode", "messages", "schema_name", "answer", "finish_reason",
                     "parsed", "usage", "latency_s", "cached", "error"}
    assert expected_keys <= set(first)
    assert first["backend"] == llm.description and first["model"] == "fake-model"
    assert first["mode"] == "json_schema" and first["schema_name"] == "widths"
    assert first["messages"] == MESSAGES and first["parsed"] is True and first["error"] is None
    assert first["usage"]["completion_tokens"] > 0 and first["latency_s"] > 0 and first["cached"] is False
    assert hit["cached"] is True and hit["answer"] == first["answer"] and hit["latency_s"] == 0
    assert truncated["finish_reason"] == "length"
    assert failed["error"] and "InternalServerError" in failed["error"] and failed["answer"] is None


def test_the_api_key_is_never_written(
    fake_openai: FakeOpenAIServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openai

    for name in ("", "openai", "httpx", "httpx2", "httpcore", "httpcore2", "llmnas"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    monkeypatch.setenv("OPENAI_LOG", "debug")
    setup_logging = getattr(getattr(getattr(openai, "_utils", None), "_logs", None), "setup_logging", None)
    if setup_logging is not None:
        setup_logging()  # what OPENAI_LOG=debug does at import time

    trace, cache = tmp_path / "trace.jsonl", tmp_path / "cache"
    llm = make(fake_openai, trace=trace, cache=cache, max_retries=1)
    # An answer that quotes the key, an error that echoes it (as OpenAI's 401 does), a failure.
    fake_openai.script([Answer({"widths": [8, 16], "note": f"your key is {KEY}"})])
    llm.complete([{"role": "user", "content": f"my key is {KEY}"}], schema=SCHEMA)
    fake_openai.script([Status(401, message=f"Incorrect API key provided: {KEY}")])
    errors: list[str] = []
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES, schema=SCHEMA, seed=5)
    errors.append("".join(traceback.format_exception(info.value)))
    fake_openai.script([Status(500, message=f"boom {KEY}")] * 2)
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES, schema=SCHEMA, seed=6)
    errors.append("".join(traceback.format_exception(info.value)))
    logging.getLogger("llmnas.test").debug("about to check %s", KEY)  # even a careless log line

    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was really used
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    written = [trace.read_text()] + [p.read_text() for p in cache.rglob("*") if p.is_file()]
    assert "***" in written[0]
    logged = caplog.text + "".join(str(r.exc_text or "") for r in caplog.records)
    for text in [*written, logged, *errors, repr(llm), llm.description]:
        assert KEY not in text


def test_a_request_over_the_context_window_is_cached_as_its_error(fake_openai, tmp_path):
    """The endpoint says the prompt exceeds the context window: that request fails the same way
    next time in this process and in a replay, without asking the endpoint again; a new run asks
    again; other errors are not kept."""
    too_long = "This model's maximum context length is 8192 tokens; your messages resulted in 9000 tokens"
    fake_openai.script([Status(400, message=too_long)])
    llm = make(fake_openai, cache=tmp_path, max_retries=0)
    messages = [{"role": "user", "content": "a very long prompt"}]
    for _ in range(2):
        with pytest.raises(LLMError, match="maximum context length"):
            llm.complete(messages)
    assert len(fake_openai.chat_requests) == 1
    replay = make(fake_openai, cache=tmp_path, cache_mode="replay")
    with pytest.raises(LLMError, match="maximum context length"):
        replay.complete(messages)
    assert len(fake_openai.chat_requests) == 1
    fresh = make(fake_openai, cache=tmp_path, max_retries=0)  # a new run: its window may be larger
    assert fresh.complete(messages).text and len(fake_openai.chat_requests) == 2
    fake_openai.script([Status(500, message="boom")])
    other = [{"role": "user", "content": "another prompt"}]
    with pytest.raises(LLMError):
        llm.complete(other)
    assert llm.complete(other).text  # not kept: asked again, answered


def test_only_a_context_window_error_counts_as_one() -> None:
    """A timeout, whatever its words ("context deadline exceeded" from Go gateways), or a quota
    error is no context overflow: it is neither cached nor a reason to list less."""
    from llmnas.llm.protocol import LLMTimeout, exceeds_context

    assert exceeds_context("local:smollm2 (llama.cpp): ValueError: Requested tokens (8626) exceed context window of 8192")
    assert exceeds_context("Error code: 400 - {'error': {'code': 'context_length_exceeded'}}")
    assert not exceeds_context("Post http://gateway/v1/chat/completions: context deadline exceeded")
    assert not exceeds_context("quota exceeded for this context")
    assert not exceeds_context(LLMTimeout("maximum context length reached while waiting"))
