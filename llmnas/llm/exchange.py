"""One exchange with a model: the request, the raw answer, and its decoding.

:class:`ChatRequest` is what a backend is asked (messages and options, the backend's
defaults already applied); its :meth:`~ChatRequest.key` is the response cache's key.
:class:`RawAnswer` is what the backend got back before parsing; :meth:`RawAnswer.decode`
turns it into the :class:`~llmnas.llm.protocol.LLMResponse` callers see, with the JSON
extracted by :func:`~llmnas.llm.parsing.parse_json_answer`.

>>> request = ChatRequest([{"role": "user", "content": "hi"}], temperature=0.5)
>>> request.sampling()
{'temperature': 0.5}
>>> RawAnswer(text='Sure: {"w": 3}', model="m").decode("m", latency_s=0.1, cached=False).data
{'w': 3}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .parsing import parse_json_answer
from .protocol import LLMResponse, Message, Usage

__all__ = ["ChatRequest", "RawAnswer", "check_messages"]


def check_messages(messages: list[Message]) -> None:
    """``ValueError`` unless ``messages`` is a non-empty list of ``role``/``content`` dicts."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for m in messages:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"each message must be a dict with 'role' and 'content', got {m!r}")


@dataclass(frozen=True)
class ChatRequest:
    """What one exchange asks: the messages and the options of
    :class:`~llmnas.llm.protocol.CompleteOptions`, with the backend's defaults applied."""

    messages: list[Message]
    schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None

    def key(self, model: str) -> str:
        """The sha256 (hex) of the canonical request for ``model``: what the response cache
        is keyed by (model, messages, schema, temperature, seed, max_tokens; never the
        schema's name, a key or a header)."""
        canonical = json.dumps(
            {
                "model": model,
                "messages": [dict(m) for m in self.messages],
                "schema": self.schema,
                "temperature": self.temperature,
                "seed": self.seed,
                "max_tokens": self.max_tokens,
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def sampling(self) -> dict[str, Any]:
        """The sampling options that are set (``temperature``, ``seed``, ``max_tokens``), as
        keyword arguments for an endpoint."""
        options = {"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens}
        return {name: value for name, value in options.items() if value is not None}

    def redacted_messages(self, redact: Callable[[str], str]) -> list[dict[str, str]]:
        """The messages as written to the trace and the cache: every value a string, redacted."""
        return [{k: redact(str(v)) for k, v in m.items()} for m in self.messages]


@dataclass(frozen=True)
class RawAnswer:
    """What a backend's :meth:`~llmnas.llm.base.BaseLLM._exchange` returns: the answer
    before parsing.

    ``mode`` is how JSON was asked for: ``"json_schema"``, ``"json_object"`` or ``"text"``.
    """

    text: str
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    mode: str = "text"
    attempts: int = 1

    def decode(self, default_model: str, *, latency_s: float, cached: bool) -> LLMResponse:
        """The :class:`~llmnas.llm.protocol.LLMResponse` of this answer, its JSON parsed."""
        text = self.text or ""
        return LLMResponse(
            text=text,
            data=parse_json_answer(text),
            finish_reason=self.finish_reason or "stop",
            usage=self.usage,
            model=self.model or default_model,
            latency_s=latency_s,
            cached=cached,
        )
