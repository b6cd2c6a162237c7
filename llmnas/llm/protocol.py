"""The one small contract every LLM backend honours.

A backend turns chat messages (plus an optional JSON schema) into an :class:`LLMResponse`:
the raw text, the parsed JSON when the answer is JSON, the finish reason and token usage.
Backends raise :class:`LLMError` when no usable answer could be had (after their own
retries); callers such as the proposal pipeline catch it and fall back to a non-LLM operator.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Protocol, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import Unpack

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""


class LLMError(RuntimeError):
    """No usable answer: the endpoint failed after retries, timed out, or refused the request."""


_CONTEXT_PHRASES = (
    "exceed context window",  # llama-cpp-python: "Requested tokens (9000) exceed context window of 8192"
    "exceeds the available context size",  # llama.cpp's server
    "maximum context length",  # OpenAI: "This model's maximum context length is 8192 tokens"
    "context_length_exceeded",  # OpenAI's error code
)


def exceeds_context(error: BaseException | str) -> bool:
    """Whether an error says the prompt did not fit the model's context window (one of the
    phrases llama.cpp and OpenAI-compatible endpoints use): the same request fails the same way
    on that endpoint. A timeout never is, whatever its text ("context deadline exceeded").

    >>> exceeds_context("Requested tokens (8626) exceed context window of 8192")
    True
    >>> exceeds_context("Post http://gw/v1: context deadline exceeded"), exceeds_context("quota exceeded")
    (False, False)
    """
    if isinstance(error, LLMTimeout):
        return False
    text = str(error).lower()
    return "deadline" not in text and any(phrase in text for phrase in _CONTEXT_PHRASES)


class LLMRefused(LLMError):
    """The endpoint refused the request itself (HTTP 401, 403 or 404: a wrong key or model)."""


class LLMSetupError(LLMError, ValueError):
    """The LLM the user named cannot be used at all (no key, a missing model file or package,
    an endpoint that refuses the model at its first request): raised to the user, never
    replaced by a fallback. The message names what is missing."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one exchange."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        """``{"prompt_tokens": ..., "completion_tokens": ...}``: how traces and caches store it."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    @classmethod
    def from_dict(cls, counts: Mapping[str, Any] | None) -> Usage:
        """The usage in ``counts`` (an endpoint's ``usage`` object or :meth:`as_dict`'s);
        a missing count is 0."""
        counts = counts or {}
        return cls(int(counts.get("prompt_tokens", 0)), int(counts.get("completion_tokens", 0)))


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


class CompleteOptions(TypedDict, total=False):
    """The keyword options of :meth:`LLM.complete`, all optional."""

    schema: dict[str, Any] | None
    """A JSON schema the answer should follow; the parsed value lands in ``LLMResponse.data``."""
    schema_name: str
    """A name for the schema, for endpoints that want one (default ``"answer"``)."""
    temperature: float | None
    """Sampling temperature (default: the backend's)."""
    seed: int | None
    """Sampling seed (default: the backend's)."""
    max_tokens: int | None
    """Bound on the answer's length in tokens (default: the backend's)."""


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

    def complete(self, messages: list[Message], **options: Unpack[CompleteOptions]) -> LLMResponse:
        """Answer ``messages`` with the :class:`CompleteOptions` given."""
        ...


class UsageMeter:
    """Thread-safe counters of LLM use: calls, tokens, errors, cache hits, truncations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.errors = 0
        self.cached_errors = 0
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

    def record_error(self, *, cached: bool = False) -> None:
        """One call without an answer; ``cached``: the cache served the error the request
        always meets (it counts as a cache hit too)."""
        with self._lock:
            self.errors += 1
            self.cached_errors += int(cached)
            self.cache_hits += int(cached)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {
                "calls": self.calls,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "errors": self.errors,
                "cached_errors": self.cached_errors,
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
        self.__dict__.setdefault("cached_errors", 0)  # pickled before it was counted
        self._lock = threading.Lock()


def llm_endpoint(llm: Any) -> str:
    """Where ``llm`` answers, fit for logs and study attributes: ``host:port`` of its
    ``base_url`` (no scheme, path, credentials or query), ``"in process"`` for a backend
    without one (the embedded model, your own object)."""
    from urllib.parse import urlsplit

    url = getattr(llm, "base_url", None)
    if not isinstance(url, str) or not url:
        return "in process"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "unknown"


_TRACE_CONTEXT: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("llmnas_trace_context", default={})


def _trace_var() -> contextvars.ContextVar[dict[str, Any]]:
    return _TRACE_CONTEXT


@contextlib.contextmanager
def trace_context(**ids: Any) -> Iterator[None]:
    """Within this block, every trace record (``LLMNAS_LLM_TRACE``) of this thread carries
    ``ids`` (hosts pass the study and trial, or the experiment and model), e.g.
    ``with trace_context(study="s", trial=3): llm.complete(...)``."""
    var = _trace_var()
    token = var.set({**var.get(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        var.reset(token)


def current_trace_context() -> dict[str, Any]:
    """The ids set by the enclosing :func:`trace_context` blocks (empty outside any)."""
    return dict(_trace_var().get())


# --------------------------------------------------------------------------- bounded waits

DEFAULT_LLM_TIMEOUT_S = 60.0
"""How long one proposal (a trial, or an NNI batch) waits for the LLM at most, every exchange
and retry together, unless ``LLMNAS_LLM_TIMEOUT`` or ``llm_timeout=`` says otherwise."""


class LLMTimeout(LLMError):
    """The LLM did not answer within its time (a request timeout, or the proposal's time
    limit ran out); the pipeline counts these and rests an endpoint that keeps timing out."""


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("llmnas_llm_deadline", default=None)


def llm_timeout_setting(value: float | None = None) -> float:
    """``value`` when given, else ``LLMNAS_LLM_TIMEOUT`` (seconds), else
    :data:`DEFAULT_LLM_TIMEOUT_S`; a value that is not a positive finite number is a
    ``ValueError`` naming where it came from."""
    import math
    import os

    where = "llm_timeout"
    if value is None:
        text = os.environ.get("LLMNAS_LLM_TIMEOUT", "").strip()
        if not text:
            return DEFAULT_LLM_TIMEOUT_S
        where = "LLMNAS_LLM_TIMEOUT"
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{where} must be a number of seconds > 0, got {text!r}.") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where} must be a number of seconds > 0, got {value!r}.")
    return float(value)


@contextlib.contextmanager
def llm_deadline(seconds: float | None) -> Iterator[None]:
    """Within this block (this thread), LLM exchanges end within ``seconds`` from now, all
    together (a nested block can only shorten it); ``None``: no bound added."""
    import time

    current = _DEADLINE.get()
    new = current if seconds is None else time.monotonic() + seconds
    if current is not None and new is not None:
        new = min(current, new)
    token = _DEADLINE.set(new)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the enclosing :func:`llm_deadline` (``None`` outside any)."""
    import time

    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()
