"""The fake OpenAI-compatible server that the host tests use as their LLM."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from llmnas.llm import LLMError, OpenAIChatLLM
from tests.fake_openai import (
    Answer,
    FakeOpenAIServer,
    Slow,
    Status,
    generate_from_schema,
    schema_errors,
)

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"x": {"type": "integer", "minimum": -5, "maximum": 5}}, "required": ["x"]},
    {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "maxItems": 3, "uniqueItems": True},
    {"type": "number", "minimum": 0.1, "maximum": 0.2, "multipleOf": 0.05},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3},
    {"type": "integer", "minimum": 16, "maximum": 256, "multipleOf": 16},
    {"type": "string", "minLength": 12, "maxLength": 12},
    {"type": ["integer", "null"], "minimum": 3, "maximum": 3},
    {"anyOf": [{"type": "boolean"}, {"const": "fixed"}]},
    {
        "type": "object",
        "$defs": {"cell": {"type": "object", "properties": {"op": {"enum": ["conv", "pool"]},
                                                             "edges": {"type": "array", "items": {"type": "integer",
                                                                       "minimum": 0, "maximum": 3},
                                                                       "minItems": 1}},
                           "required": ["op", "edges"]}},
        "properties": {"cells": {"type": "array", "items": {"$ref": "#/$defs/cell"}, "minItems": 1, "maxItems": 6},
                       "reason": {"type": "string"}},
        "required": ["cells", "reason"],
    },
    {"allOf": [{"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"]},
               {"properties": {"b": {"type": "null"}}, "required": ["b"]}]},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_generated_values_follow_the_schema(schema: dict[str, Any]) -> None:
    for seed in range(40):
        value = generate_from_schema(schema, random.Random(seed))
        assert schema_errors(value, schema) == [], (seed, value)


def test_schema_errors_finds_problems() -> None:
    schema = SCHEMAS[-2]
    assert schema_errors({"cells": [{"op": "jump", "edges": []}]}, schema) == [
        "$: missing required 'reason'",
        "$.cells[0].op: 'jump' not in enum ['conv', 'pool']",
        "$.cells[0].edges: 0 items < minItems 1",
    ]


def answers(server: FakeOpenAIServer, seeds: list[int]) -> list[Any]:
    llm = OpenAIChatLLM("fake-model", base_url=server.base_url)
    return [llm.complete([{"role": "user", "content": "go"}], schema=SCHEMAS[-2], seed=s).data for s in seeds]


def test_answers_are_deterministic_for_a_seed() -> None:
    with FakeOpenAIServer(seed=4) as one, FakeOpenAIServer(seed=4) as two, FakeOpenAIServer(seed=5) as other:
        first, second, third = answers(one, [1, 2, 1]), answers(two, [1, 2, 1]), answers(other, [1, 2, 1])
    assert first == second
    assert first != third
    assert first[0] != first[2]  # the same request asked again gets a fresh answer


def test_script_is_consumed_in_order_then_default_resumes(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script([Answer({"n": 1}), Answer("plain"), Slow(0.05)])
    assert fake_openai.pending == 3
    llm = OpenAIChatLLM("fake-model", base_url=fake_openai.base_url)
    messages = [{"role": "user", "content": "go"}]
    schema = SCHEMAS[0]
    got = [llm.complete(messages, schema=schema).text for _ in range(4)]
    assert got[:2] == ['{"n": 1}', "plain"]
    assert schema_errors(json.loads(got[2]), schema) == [] and schema_errors(json.loads(got[3]), schema) == []
    assert fake_openai.pending == 0


def test_n_choices_usage_and_max_tokens(fake_openai: FakeOpenAIServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi there"}], "n": 3,
            "response_format": {"type": "json_object", "schema": SCHEMAS[-2]}}
    reply = post(fake_openai, body)
    assert len(reply["choices"]) == 3
    assert all(schema_errors(json.loads(c["message"]["content"]), SCHEMAS[-2]) == [] for c in reply["choices"])
    assert reply["usage"]["prompt_tokens"] > 0 and reply["usage"]["completion_tokens"] > 0
    short = post(fake_openai, {**body, "n": 1, "max_tokens": 3})
    assert short["choices"][0]["finish_reason"] == "length"


def test_schema_in_a_plain_prompt_is_answered_in_a_fence(fake_openai: FakeOpenAIServer) -> None:
    prompt = "Reply in JSON following this schema:\n" + json.dumps(SCHEMAS[0])
    reply = post(fake_openai, {"model": "m", "messages": [{"role": "user", "content": prompt}]})
    content = reply["choices"][0]["message"]["content"]
    assert content.startswith("Here is my answer:\n```json\n")
    no_schema = post(fake_openai, {"model": "m", "messages": [{"role": "user", "content": "hello"}]})
    assert "short answer" in no_schema["choices"][0]["message"]["content"]


def test_custom_responder_and_api_key_check() -> None:
    with FakeOpenAIServer(responder=lambda body, schema, rng: {"echo": body["model"]}, api_key="sk-right-key-123456") as server:
        good = OpenAIChatLLM("m1", base_url=server.base_url, api_key="sk-right-key-123456")
        assert good.complete([{"role": "user", "content": "x"}]).data == {"echo": "m1"}
        bad = OpenAIChatLLM("m1", base_url=server.base_url, api_key="sk-wrong-key-123456")
        with pytest.raises(LLMError, match="401"):
            bad.complete([{"role": "user", "content": "x"}])


def test_requests_are_recorded(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.script([Status(429, retry_after=0.01)])
    OpenAIChatLLM("fake-model", base_url=fake_openai.base_url, api_key="sk-abc-123456789").complete(
        [{"role": "user", "content": "x"}], seed=9
    )
    assert len(fake_openai.chat_requests) == 2
    first = fake_openai.chat_requests[0]
    assert first.method == "POST" and first.path == "/v1/chat/completions"
    assert first.body["seed"] == 9 and first.headers["authorization"] == "Bearer sk-abc-123456789"
    fake_openai.reset()
    assert fake_openai.requests == []


def post(server: FakeOpenAIServer, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_runs_as_a_module() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--port", "0", "--model", "cli-model"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        with urllib.request.urlopen(f"{base_url}/models", timeout=5) as response:
            assert json.loads(response.read())["data"][0]["id"] == "cli-model"
    finally:
        process.terminate()
        process.wait(timeout=10)
