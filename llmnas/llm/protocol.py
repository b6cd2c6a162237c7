"""The one small contract every LLM backend honours.

A backend turns chat messages (plus an optional JSON schema) into an :class:`LLMResponse`:
the raw text, the parsed JSON when the answer is JSON, the finish reason and token usage.
Backends raise :class:`LLMError` when no usable answer could be had (after their own
retries); callers such as the proposal pipeline catch it and fall back to a non-LLM operator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""


class LLMError(RuntimeError):
    """No usable answer: the endpoint failed after retries, timed out, or refused the request."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one exchange."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class LLMResponse:
    """One answer of a backend.

    Attributes:
        text: the answer as the model wrote it.
        data: the parsed JSON value when the answer is (or contains) JSON, else ``None``.
        finish_reason: ``"stop"``, ``"length"`` (truncated), ... as the endpoint said.
        usage: token counts.
        model: the model that answered.
        latency_s: wall-clock seconds of the exchange (0 for a cache hit).
        cached: ``True`` when served from the on-disk response cache.
    """

    text: str
    data: Any = None
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    latency_s: float = 0.0
    cached: bool = False

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@runtime_checkable
class LLM(Protocol):
    """What the methods need from a language model.

    ``complete`` sends ``messages``; when ``schema`` is given the backend asks for JSON that
    follows it (as strictly as the endpoint supports) and puts the parsed value in
    ``LLMResponse.data``. It raises :class:`LLMError` when it cannot answer.
    """

    @property
    def description(self) -> str:
        """A short human-readable name for logs, e.g. ``"openai:gpt-4o-mini @ https://…"``.

        Never contains a secret.
        """
        ...

    @property
    def usage(self) -> "UsageMeter":
        """Counts of calls and tokens since the backend was created."""
        ...

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> LLMResponse:
        ...


class UsageMeter:
    """Thread-safe counters of LLM use: calls, tokens, errors, cache hits, truncations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.errors = 0
        self.cache_hits = 0
        self.truncated = 0
        self.seconds = 0.0

    def record(self, response: LLMResponse) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += response.usage.prompt_tokens
            self.completion_tokens += response.usage.completion_tokens
            self.cache_hits += int(response.cached)
            self.truncated += int(response.truncated)
            self.seconds += response.latency_s

    def record_error(self) -> None:
        with self._lock:
            self.errors += 1

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {
                "calls": self.calls,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "errors": self.errors,
                "cache_hits": self.cache_hits,
                "truncated": self.truncated,
                "seconds": round(self.seconds, 3),
            }

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
