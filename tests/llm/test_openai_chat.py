"""OpenAIChatLLM against the fake OpenAI-compatible server."""

from __future__ import annotations

import logging
import pickle
import socket
import threading
import time
from typing import Any

import pytest

from llmnas.llm import LLM, LLMError, OpenAIChatLLM
from tests.fake_openai import (
    Answer,
    Disconnect,
    Empty,
    FakeOpenAIServer,
    Garbage,
    Hang,
    RejectJsonObject,
    RejectJsonSchema,
    Status,
    Truncated,
    list_schema,
    schema_errors,
)

KEY = "sk-test-SECRET-0123456789abcdef"
MESSAGES = [
    {"role": "system", "content": "You design neural networks."},
    {"role": "user", "content": "Propose architectures."},
]
SCHEMA = list_schema("architectures", {
    "op": {"type": "string", "enum": ["conv3x3", "conv1x1", "skip"]},
    "width": {"type": "integer", "minimum": 16, "maximum": 64, "multipleOf": 16},
}, min_items=2, max_items=4)


def make(server: FakeOpenAIServer, **kwargs: Any) -> OpenAIChatLLM:
    options: dict[str, Any] = {"api_key": KEY, "timeout": 2.0, "backoff_initial": 0.01, "backoff_max": 0.05}
    options.update(kwargs)
    return OpenAIChatLLM("fake-model", base_url=server.base_url, **options)


def formats(server: FakeOpenAIServer) -> list[str]:
    return [(r.body.get("response_format") or {}).get("type", "text") for r in server.chat_requests]


def test_structured_answer_follows_the_schema(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai, temperature=0.7)
    assert isinstance(llm, LLM)
    response = llm.complete(MESSAGES, schema=SCHEMA, schema_name="proposals v1", seed=7, max_tokens=500)
    assert schema_errors(response.data, SCHEMA) == []
    assert response.finish_reason == "stop" and not response.truncated and not response.cached
    assert response.model == "fake-model"
    body = fake_openai.chat_requests[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "proposals_v1"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert (body["seed"], body["temperature"], body["max_tokens"]) == (7, 0.7, 500)
    assert body["messages"] == MESSAGES
    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_plain_text_request_has_no_response_format(fake_openai: FakeOpenAIServer) -> None:
    response = make(fake_openai).complete(MESSAGES)
    assert "response_format" not in fake_openai.chat_requests[0].body
    assert response.text and response.data is None


def test_retries_rate_limit_and_5xx_then_succeeds(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai)
    llm.complete(MESSAGES, schema=SCHEMA)  # json_schema is now known to work
    fake_openai.script([Status(429, retry_after=0.3), Status(500), Status(503), Status(502)])
    start = time.monotonic()
    response = llm.complete(MESSAGES, schema=SCHEMA)
    elapsed = time.monotonic() - start
    assert schema_errors(response.data, SCHEMA) == []
    assert len(fake_openai.chat_requests) == 1 + 5
    assert elapsed >= 0.3  # Retry-After honoured
    assert elapsed < 3.0
    assert llm.usage.calls == 2 and llm.usage.errors == 0


def test_retry_after_is_capped(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai, retry_after_max=0.05)
    fake_openai.script([Status(429, retry_after=30)])
    start = time.monotonic()
    llm.complete(MESSAGES)
    assert time.monotonic() - start < 2.0


def test_gives_up_after_retries_with_a_clear_error(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai, max_retries=2)
    fake_openai.script([Status(503)] * 5)
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    message = str(info.value)
    assert "3 attempts" in message and "InternalServerError" in message and "503" in message
    assert fake_openai.base_url in message
    assert len(fake_openai.chat_requests) == 3
    assert llm.usage.errors == 1 and llm.usage.calls == 0


@pytest.mark.parametrize("code", [401, 403, 404])
def test_client_errors_are_not_retried(fake_openai: FakeOpenAIServer, code: int) -> None:
    llm = make(fake_openai)
    fake_openai.script([Status(code)])
    with pytest.raises(LLMError, match=str(code)):
        llm.complete(MESSAGES, schema=SCHEMA)
    assert len(fake_openai.chat_requests) == 1


def test_hanging_endpoint_is_bounded_by_the_timeout(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai, timeout=0.5, max_retries=1)
    fake_openai.script([Hang(20), Hang(20)])
    start = time.monotonic()
    with pytest.raises(LLMError, match="APITimeoutError") as info:
        llm.complete(MESSAGES)
    elapsed = time.monotonic() - start
    assert "2 attempts" in str(info.value)
    assert 0.9 <= elapsed < 0.5 * 2 + 2.0


def test_total_retry_time_is_bounded(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai, max_retries=50, backoff_initial=0.2, backoff_max=0.2, max_total_s=0.6)
    fake_openai.script([Status(503)] * 50)
    start = time.monotonic()
    with pytest.raises(LLMError):
        llm.complete(MESSAGES)
    assert time.monotonic() - start < 1.5
    assert len(fake_openai.chat_requests) < 6


def test_refused_connection_fails_quickly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    llm = OpenAIChatLLM(
        "m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, backoff_initial=0.01, backoff_max=0.02
    )
    start = time.monotonic()
    with pytest.raises(LLMError, match="APIConnectionError"):
        llm.complete(MESSAGES)
    assert time.monotonic() - start < 3.0


def test_dropped_connection_is_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script([Disconnect()])
    response = make(fake_openai).complete(MESSAGES, schema=SCHEMA)
    assert schema_errors(response.data, SCHEMA) == []
    assert len(fake_openai.chat_requests) == 2


def test_json_schema_rejected_with_500_falls_back_to_json_object(
    fake_openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.script([RejectJsonSchema()])  # like the llama-cpp-python server
    llm = make(fake_openai)
    with caplog.at_level(logging.INFO, logger="llmnas"):
        first = llm.complete(MESSAGES, schema=SCHEMA)
        second = llm.complete(MESSAGES, schema=SCHEMA)
    assert schema_errors(first.data, SCHEMA) == [] and schema_errors(second.data, SCHEMA) == []
    assert formats(fake_openai) == ["json_schema", "json_object", "json_object"]  # no retry loop, sticky
    assert fake_openai.chat_requests[1].body["response_format"]["schema"] == SCHEMA
    assert llm.structured_mode == "json_object"
    downgrades = [r for r in caplog.records if "does not accept response_format" in r.getMessage()]
    assert len(downgrades) == 1 and downgrades[0].levelno == logging.INFO


def test_json_schema_and_json_object_rejected_falls_back_to_text(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script([RejectJsonSchema(status=400), RejectJsonObject(status=400)])
    llm = make(fake_openai)
    first = llm.complete(MESSAGES, schema=SCHEMA)
    second = llm.complete(MESSAGES, schema=SCHEMA)
    assert formats(fake_openai) == ["json_schema", "json_object", "text", "text"]
    assert llm.structured_mode == "text"
    last = fake_openai.chat_requests[-1].body
    assert '"architectures"' in last["messages"][-1]["content"]  # the schema went into the prompt
    assert last["messages"][0] == MESSAGES[0]
    for response in (first, second):
        assert "```json" in response.text  # the fake answers like a chatty model
        assert schema_errors(response.data, SCHEMA) == []


def test_a_known_good_mode_is_not_downgraded_by_a_server_error(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai)
    llm.complete(MESSAGES, schema=SCHEMA)
    fake_openai.script([Status(500)])
    llm.complete(MESSAGES, schema=SCHEMA)
    assert formats(fake_openai) == ["json_schema"] * 3
    assert llm.structured_mode == "json_schema"


def test_truncated_answer_is_salvaged(fake_openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    schema = {"type": "object", "properties": {"architectures": {**SCHEMA["properties"]["architectures"],
                                                                  "minItems": 4}}}
    fake_openai.script([Truncated(fraction=0.7)])
    llm = make(fake_openai)
    with caplog.at_level(logging.WARNING, logger="llmnas"):
        response = llm.complete(MESSAGES, schema=schema)
    assert response.truncated and response.finish_reason == "length"
    items = response.data["architectures"]
    assert 1 <= len(items) < 4
    assert all(schema_errors(item, SCHEMA["properties"]["architectures"]["items"]) == [] for item in items)
    assert any("truncated" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert llm.usage.truncated == 1


@pytest.mark.parametrize(("behaviour", "text"), [(Garbage("not json at all"), "not json at all"), (Empty(), "")])
def test_unusable_answer_gives_no_data(fake_openai: FakeOpenAIServer, behaviour: object, text: str) -> None:
    fake_openai.script([behaviour])
    response = make(fake_openai).complete(MESSAGES, schema=SCHEMA)
    assert response.text == text and response.data is None
    assert len(fake_openai.chat_requests) == 1


def test_json_wrapped_in_prose_is_extracted(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script([Answer('Here:\n```json\n{"architectures": []}\n```')])
    assert make(fake_openai).complete(MESSAGES, schema=SCHEMA).data == {"architectures": []}


def test_usage_is_counted(fake_openai: FakeOpenAIServer) -> None:
    llm = make(fake_openai)
    responses = [llm.complete(MESSAGES, schema=SCHEMA, seed=i) for i in range(3)]
    usage = llm.usage.as_dict()
    assert usage["calls"] == 3
    assert usage["prompt_tokens"] == sum(r.usage.prompt_tokens for r in responses) > 0
    assert usage["completion_tokens"] == sum(r.usage.completion_tokens for r in responses) > 0
    assert usage["seconds"] > 0


def test_pickled_client_keeps_working(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script([RejectJsonSchema()])
    llm = make(fake_openai)
    llm.complete(MESSAGES, schema=SCHEMA)
    clone = pickle.loads(pickle.dumps(llm))
    response = clone.complete(MESSAGES, schema=SCHEMA)
    assert schema_errors(response.data, SCHEMA) == []
    assert clone.structured_mode == "json_object"  # the sticky mode travels
    assert clone.usage.calls == 2
    assert formats(fake_openai)[-1] == "json_object"


def test_a_key_from_the_environment_is_not_pickled(
    fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    llm = OpenAIChatLLM("fake-model", base_url=fake_openai.base_url)
    blob = pickle.dumps(llm)
    assert KEY.encode() not in blob
    pickle.loads(blob).complete(MESSAGES)
    assert fake_openai.chat_requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_one_client_shared_by_threads(fake_openai: FakeOpenAIServer, tmp_path: Any) -> None:
    llm = make(fake_openai, trace=tmp_path / "trace.jsonl", cache=tmp_path / "cache")
    errors: list[BaseException] = []
    results: list[Any] = []

    def work(worker: int) -> None:
        try:
            for i in range(5):
                messages = [{"role": "user", "content": f"worker {worker} call {i}"}]
                results.append(llm.complete(messages, schema=SCHEMA).data)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == 40 and all(schema_errors(r, SCHEMA) == [] for r in results)
    assert llm.usage.calls == 40 and len(fake_openai.chat_requests) == 40
    assert len((tmp_path / "trace.jsonl").read_text().splitlines()) == 40


def test_custom_base_url_without_key_sends_a_placeholder(fake_openai: FakeOpenAIServer) -> None:
    OpenAIChatLLM("fake-model", base_url=fake_openai.base_url).complete(MESSAGES)
    assert fake_openai.chat_requests[0].headers["authorization"] == "Bearer EMPTY"


def test_description_has_no_credentials() -> None:
    llm = OpenAIChatLLM("m", base_url="http://user:hunter2pass@127.0.0.1:9/v1?token=abc", api_key=KEY)
    assert llm.description == "openai:m @ http://127.0.0.1:9/v1"
    assert KEY not in repr(llm)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"max_retries": -1},
        {"structured": "xml"},
        {"base_url": "ftp://example.com/v1"},
        {"temperature": 3.0},
        {"max_tokens": 0},
        {"cache_mode": "sometimes"},
        {"cache_mode": "replay"},
    ],
)
def test_constructor_checks(kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"base_url": "http://127.0.0.1:9/v1"}
    options.update(kwargs)
    with pytest.raises(ValueError):
        OpenAIChatLLM("m", **options)


def test_openai_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIChatLLM("gpt-4o-mini")
