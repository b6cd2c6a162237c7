"""One exchange's pieces: the request (and the cache key it pins), the decoding, the options."""

from __future__ import annotations

import pytest

from llmnas.llm import BaseLLM, ChatRequest, RawAnswer, Usage

MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi sk-secret-0123456789"}]
KEY = "4e5b7e1fc7062871f5a380097f3c0cd825a6ebdc00c77e456d5726c3759ada8a"
"""The key the code before the split gave this request: recorded caches must keep hitting."""


class Echo(BaseLLM):
    @property
    def description(self) -> str:
        return "echo"

    def _exchange(self, request: ChatRequest) -> RawAnswer:
        self.last = request
        return RawAnswer(text='{"ok": true}', usage=Usage(3, 2), model="echo")


def test_the_cache_key_is_unchanged() -> None:
    request = ChatRequest(MESSAGES, temperature=0.3, seed=5, max_tokens=50)
    assert request.key("m") == KEY
    assert ChatRequest(MESSAGES, schema_name="other", temperature=0.3, seed=5, max_tokens=50).key("m") == KEY
    assert Echo(model="m").request_key(MESSAGES, temperature=0.3, seed=5, max_tokens=50) == KEY


def test_complete_applies_the_defaults_and_sends_one_request() -> None:
    llm = Echo(model="m", temperature=0.3, seed=5, max_tokens=50)
    response = llm.complete(MESSAGES, schema_name="arch")
    assert response.data == {"ok": True} and response.usage.total_tokens == 5
    assert llm.last == ChatRequest(MESSAGES, schema_name="arch", temperature=0.3, seed=5, max_tokens=50)
    assert llm.last.sampling() == {"temperature": 0.3, "seed": 5, "max_tokens": 50}
    llm.complete(MESSAGES, temperature=1, seed=0)
    assert llm.last.sampling() == {"temperature": 1.0, "seed": 0, "max_tokens": 50}


def test_a_stray_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Echo.complete.. got an unexpected keyword argument 'bogus'"):
        Echo(model="m").complete(MESSAGES, bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="Echo.__init__.. got an unexpected keyword argument 'bogus'"):
        Echo(model="m", bogus=1)  # type: ignore[call-arg]


def test_usage_round_trips_through_its_dict() -> None:
    usage = Usage(7, 4)
    assert Usage.from_dict(usage.as_dict()) == usage
    assert Usage.from_dict(None) == Usage() == Usage.from_dict({})


def test_decode_keeps_the_raw_answer_and_parses_it() -> None:
    response = RawAnswer(text="", finish_reason="", model="").decode("m", latency_s=0.5, cached=True)
    assert (response.text, response.data, response.finish_reason, response.model) == ("", None, "stop", "m")
    assert response.cached and response.latency_s == 0.5
