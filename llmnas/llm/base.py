"""What every backend shares: one exchange wrapped in metering, the response cache and the trace.

A backend subclasses :class:`BaseLLM` and implements :meth:`BaseLLM._exchange` (one
:class:`~llmnas.llm.exchange.ChatRequest` to its model, after its own retries) and
:attr:`BaseLLM.description`. The base class wraps each exchange:

* **cache** (opt-in, a directory; :mod:`llmnas.llm.cache`): answers are stored under the
  sha256 of the canonical request (model, messages, schema, temperature, seed, max_tokens;
  never a key or a header). ``cache_mode="readwrite"`` serves hits and stores misses;
  ``"replay"`` serves hits and raises :class:`LLMError` on a miss without contacting the
  endpoint. A cached answer keeps the token usage of the original exchange (so budgets
  behave the same on a replay) and is marked ``cached=True`` with ``latency_s=0``.
* **trace** (opt-in, a ``.jsonl`` path; :mod:`llmnas.llm.trace`): one JSON line per
  exchange, hit or error.
* **secrets** (:mod:`llmnas.llm.redaction`): every secret a backend holds is registered; it
  is replaced by ``***`` in the trace, the cache, exception messages and the records of the
  HTTP stack's loggers.

Objects are thread-safe (several threads may share one) and picklable (locks and clients
are dropped and recreated lazily).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from .cache import CACHE_MODES, read_cached, read_cached_error, write_cached
from .exchange import ChatRequest, RawAnswer, check_messages
from .protocol import CompleteOptions, LLMError, LLMResponse, Message, UsageMeter, exceeds_context
from .redaction import REDACTED, RedactingFilter, guard_loggers, is_placeholder_key, redact, register_secret
from .trace import append_trace, trace_record

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "CACHE_MODES",
    "REDACTED",
    "BackendOptions",
    "BaseLLM",
    "ChatRequest",
    "RawAnswer",
    "RecordOptions",
    "RedactingFilter",
    "guard_loggers",
    "is_placeholder_key",
    "redact",
    "register_secret",
]

logger = logging.getLogger(__name__)



class RecordOptions(TypedDict, total=False):
    """Where a backend keeps a record of its exchanges: keywords of every backend."""

    trace: str | os.PathLike[str] | None
    """A ``.jsonl`` file: one line per exchange, hit or error (default: no trace)."""
    cache: str | os.PathLike[str] | None
    """A directory for the response cache (default: no cache)."""
    cache_mode: str
    """``"readwrite"`` (default: serve hits, store misses) or ``"replay"`` (serve hits, a miss
    is an :class:`LLMError` and the endpoint is never contacted)."""


class BackendOptions(RecordOptions, total=False):
    """The keywords :class:`BaseLLM` takes besides ``model``."""

    temperature: float | None
    """Default sampling temperature of :meth:`BaseLLM.complete`, within [0, 2] (default: the endpoint's)."""
    max_tokens: int | None
    """Default bound on an answer's tokens (default: the endpoint's)."""
    seed: int | None
    """Default sampling seed (default: none)."""


def _keys(options: type) -> frozenset[str]:
    return frozenset(options.__required_keys__ | options.__optional_keys__)  # type: ignore[attr-defined]


_COMPLETE_OPTIONS = _keys(CompleteOptions)
_BACKEND_OPTIONS = _keys(BackendOptions)


def _reject_unknown(given: Collection[str], known: frozenset[str], where: str) -> None:
    """The ``TypeError`` Python raises for an unexpected keyword, for ``**options`` callables."""
    unknown = sorted(set(given) - known)
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")


class BaseLLM(ABC):
    """Shared machinery of the backends (see the module docstring).

    Subclasses implement :attr:`description` and :meth:`_exchange`, hand their secrets to
    :meth:`_add_secret`, and list in ``_TRANSIENT`` the attributes (locks, clients) that must
    not be pickled; :meth:`_init_transient` recreates them.

    Example (a toy backend that always answers the same JSON)::

        >>> class Echo(BaseLLM):
        ...     @property
        ...     def description(self) -> str:
        ...         return "echo"
        ...     def _exchange(self, request):
        ...         return RawAnswer(text='{"ok": true}', model="echo")
        >>> Echo(model="echo").complete([{"role": "user", "content": "hi"}]).data
        {'ok': True}
    """

    _TRANSIENT: ClassVar[tuple[str, ...]] = ("_trace_lock",)

    def __init__(self, *, model: str, **options: Unpack[BackendOptions]) -> None:
        _reject_unknown(options, _BACKEND_OPTIONS, f"{type(self).__name__}.__init__")
        temperature, max_tokens, seed = options.get("temperature"), options.get("max_tokens"), options.get("seed")
        trace, cache, cache_mode = options.get("trace"), options.get("cache"), options.get("cache_mode", "readwrite")
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a non-empty string, got {model!r}")
        if temperature is not None and not 0.0 <= float(temperature) <= 2.0:
            raise ValueError(f"temperature must be within [0, 2] or None, got {temperature!r}")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"max_tokens must be a positive int or None, got {max_tokens!r}")
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        if cache_mode not in CACHE_MODES:
            raise ValueError(f"cache_mode must be one of {CACHE_MODES}, got {cache_mode!r}")
        if cache_mode == "replay" and cache is None:
            raise ValueError("cache_mode='replay' needs a cache directory (cache=...)")
        self._model = model
        self.temperature = None if temperature is None else float(temperature)
        self.max_tokens = max_tokens
        self.seed = seed
        self.trace_path: Path | None = Path(trace) if trace is not None else None
        self.cache_dir: Path | None = Path(cache) if cache is not None else None
        self.cache_mode = cache_mode
        self._usage = UsageMeter()
        self._overflowed: dict[str, str] = {}
        """Requests (keys) that overflowed the model's context window in this process: their error."""
        self._secret_values: tuple[str, ...] = ()
        self._init_transient()

    # ------------------------------------------------------------------ protocol

    @property
    @abstractmethod
    def description(self) -> str:
        """A short human-readable name for logs; never contains a secret."""

    @property
    def model(self) -> str:
        """The model name requests are sent for."""
        return self._model

    @property
    def usage(self) -> UsageMeter:
        """Counts of calls, tokens, errors, cache hits and truncations since creation."""
        return self._usage

    def complete(self, messages: list[Message], **options: Unpack[CompleteOptions]) -> LLMResponse:
        """Send ``messages`` (asking for JSON following ``schema`` when given); see :class:`LLM`.

        The options are those of :class:`~llmnas.llm.protocol.CompleteOptions`;
        ``temperature``, ``seed`` and ``max_tokens`` default to the values given at
        construction. Raises :class:`LLMError` when no answer could be had.
        """
        request = self._request_for(messages, options)
        key = request.key(self._model)

        if self.cache_dir is not None:
            hit = read_cached(self.cache_dir, key, default_model=self._model, description=self.description)
            if hit is not None:
                response = hit.decode(self._model, latency_s=0.0, cached=True)
                self._usage.record(response)
                self._trace(request, response, hit.mode, key)
                return response
        # A request over the context window fails the same way on this endpoint: it is not asked
        # again in this process, and a replay raises the recorded error; a new run asks again
        # (its model may have a larger window).
        failed = self._overflowed.get(key)
        if failed is None and self.cache_dir is not None and self.cache_mode == "replay":
            failed = read_cached_error(self.cache_dir, key)
        if failed is not None:
            self._usage.record_error(cached=True)
            self._trace(request, None, "cache", key, error=failed)
            raise LLMError(failed)
        if self.cache_dir is not None and self.cache_mode == "replay":
            self._usage.record_error()
            error = LLMError(
                f"{self.description}: replay miss: no cached answer for request {key[:16]}… in "
                f"{self.cache_dir} (cache_mode='replay' never contacts the endpoint)"
            )
            self._trace(request, None, "cache", key, error=str(error))
            raise error

        start = time.monotonic()
        try:
            raw = self._exchange(request)
        except LLMError as exc:
            self._usage.record_error()
            safe = self._redact(str(exc))
            self._trace(request, None, None, key, error=safe, latency_s=time.monotonic() - start)
            if exceeds_context(exc):  # the same request fails alike on this endpoint: keep it
                self._overflowed[key] = safe
                if self.cache_dir is not None:  # for a replay
                    write_cached(self.cache_dir, key, request, safe, model=self._model, description=self.description,
                                 redact=self._redact)
            if safe != str(exc):
                try:  # the same kind of error (a timeout stays a timeout), without the secret
                    clean = type(exc)(safe) if isinstance(exc, LLMError) else LLMError(safe)
                except Exception:
                    clean = LLMError(safe)
                raise clean from None
            raise
        latency = time.monotonic() - start
        response = raw.decode(self._model, latency_s=latency, cached=False)
        if response.truncated:
            logger.warning(
                "%s: answer truncated at max_tokens=%s (finish_reason=length); %s",
                self.description,
                request.max_tokens,
                "salvaged the complete part of the JSON" if response.data is not None else "no JSON salvaged",
            )
        self._usage.record(response)
        if self.cache_dir is not None:
            write_cached(self.cache_dir, key, request, raw, model=self._model, description=self.description,
                         redact=self._redact)
        self._trace(request, response, raw.mode, key, attempts=raw.attempts)
        return response

    @abstractmethod
    def _exchange(self, request: ChatRequest) -> RawAnswer:
        """One request to the model (after the backend's own retries); raises :class:`LLMError`."""

    def request_key(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """The sha256 (hex) of the canonical request: what the response cache is keyed by."""
        request = ChatRequest(messages, schema=schema, temperature=temperature, seed=seed, max_tokens=max_tokens)
        return request.key(self._model)

    # ------------------------------------------------------------------ helpers

    def _request_for(self, messages: list[Message], options: CompleteOptions) -> ChatRequest:
        """The request :meth:`complete` sends: the options checked, this backend's defaults applied."""
        _reject_unknown(options, _COMPLETE_OPTIONS, f"{type(self).__name__}.complete")
        check_messages(messages)
        schema = options.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise ValueError(f"schema must be a dict (a JSON schema) or None, got {type(schema).__name__}")
        temperature, seed, max_tokens = options.get("temperature"), options.get("seed"), options.get("max_tokens")
        return ChatRequest(
            messages,
            schema=schema,
            schema_name=options.get("schema_name", "answer"),
            temperature=self.temperature if temperature is None else float(temperature),
            seed=self.seed if seed is None else seed,
            max_tokens=self.max_tokens if max_tokens is None else max_tokens,
        )

    def _trace(self, request: ChatRequest, response: LLMResponse | None, mode: str | None, key: str,
               **extra: Any) -> None:
        """Append the trace record of one exchange (``extra``: error, latency_s, attempts)."""
        if self.trace_path is None:
            return
        record = trace_record(request, response, backend=self.description, model=self._model, mode=mode, key=key,
                              redact=self._redact, **extra)
        append_trace(self.trace_path, self._trace_lock, record, backend=self.description)

    def _add_secret(self, secret: str | None) -> None:
        """Register a secret this backend holds (placeholders are ignored)."""
        if secret is None or is_placeholder_key(secret):
            return
        register_secret(secret)
        guard_loggers()
        self._secret_values = (*self._secret_values, secret)

    def _redact(self, text: str) -> str:
        return redact(text, self._secret_values)

    def _init_transient(self) -> None:
        """(Re)create the attributes listed in ``_TRANSIENT``; subclasses extend it."""
        self._trace_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self._transient_names():
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for secret in self._secret_values:
            register_secret(secret)
        self._init_transient()

    @classmethod
    def _transient_names(cls) -> set[str]:
        names: set[str] = set()
        for klass in cls.__mro__:
            names.update(getattr(klass, "_TRANSIENT", ()))
        return names

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"
