"""What every backend shares: usage metering, the JSONL trace, the response cache, redaction.

A backend subclasses :class:`BaseLLM` and implements :meth:`BaseLLM._exchange` (one
request to its model, after its own retries) and :attr:`BaseLLM.description`. The base class
wraps each exchange:

* **cache** (opt-in, a directory): answers are stored under the sha256 of the canonical
  request (model, messages, schema, temperature, seed, max_tokens; never a key or a header).
  ``cache_mode="readwrite"`` serves hits and stores misses; ``"replay"`` serves hits and
  raises :class:`LLMError` on a miss without contacting the endpoint. A cached answer keeps
  the token usage of the original exchange (so budgets behave the same on a replay) and is
  marked ``cached=True`` with ``latency_s=0``.
* **trace** (opt-in, a ``.jsonl`` path): one JSON line per exchange, hit or error.
* **secrets**: every secret a backend holds is registered; it is replaced by ``***`` in the
  trace, the cache, exception messages and the records of the HTTP stack's loggers.

Objects are thread-safe (several threads may share one) and picklable (locks and clients
are dropped and recreated lazily).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from .parsing import parse_json_answer
from .protocol import LLMError, LLMResponse, Message, Usage, UsageMeter, current_trace_context

__all__ = [
    "CACHE_MODES",
    "REDACTED",
    "BaseLLM",
    "RawAnswer",
    "RedactingFilter",
    "guard_loggers",
    "is_placeholder_key",
    "redact",
    "register_secret",
]

logger = logging.getLogger(__name__)

CACHE_MODES = ("readwrite", "replay")
REDACTED = "***"

# --------------------------------------------------------------------------- secrets

_MIN_SECRET_LEN = 8
_PLACEHOLDER_KEYS = frozenset({"", "empty", "none", "null", "sk-no-key-required", "no-key", "dummy"})
_GUARDED_PREFIXES = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "urllib3", "llmnas")

_secrets_lock = threading.Lock()
_secrets: set[str] = set()


def is_placeholder_key(key: str | None) -> bool:
    """``True`` for keys that are no secret: empty, ``"EMPTY"``-style placeholders, very short."""
    return key is None or key.strip().lower() in _PLACEHOLDER_KEYS or len(key) < _MIN_SECRET_LEN


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` so that :func:`redact` and the log redaction hide it.

    Placeholders (see :func:`is_placeholder_key`) are ignored.

    >>> register_secret("sk-example-0123456789")
    >>> redact("key=sk-example-0123456789")
    'key=***'
    """
    if secret is None or is_placeholder_key(secret):
        return
    with _secrets_lock:
        _secrets.add(secret)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every registered secret (and each one in ``extra``) replaced by ``***``."""
    if not text:
        return text
    with _secrets_lock:
        secrets = set(_secrets)
    secrets.update(s for s in extra if s and not is_placeholder_key(s))
    for secret in sorted(secrets, key=len, reverse=True):  # longest first
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _has_secret(text: str) -> bool:
    with _secrets_lock:
        return any(s in text for s in _secrets)


def _scrub(record: logging.LogRecord) -> None:
    """Replace registered secrets in a log record's message and traceback, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: leave it to logging's own error handling
        return
    if _has_secret(message):
        record.msg = redact(message)
        record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        exc_text = logging.Formatter().formatException(record.exc_info)
        if _has_secret(exc_text):
            record.exc_info = None
            record.exc_text = redact(exc_text)
    elif record.exc_text and _has_secret(record.exc_text):
        record.exc_text = redact(record.exc_text)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record whose message or traceback contains a registered
    secret (it never drops a record). Put it on a handler of your own to keep secrets out of
    everything that handler writes; the ``llmnas`` command does so on its handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _secrets_lock:
            if not _secrets:
                return True
        _scrub(record)
        return True


class _RedactingHandler(logging.Handler):
    """Scrubs, in place, every record that reaches the logger it sits on (the logger's own and
    its descendants', loggers created later included), before the handlers further up see it.

    It writes nothing itself. When it is the only handler a record meets on its way up (so
    that, without it, :data:`logging.lastResort` would have printed the record), it hands the
    record to ``lastResort``: guarding a logger does not silence it.
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)

    def createLock(self) -> None:  # noqa: N802 - logging's name; stateless, nothing to lock
        self.lock = None  # type: ignore[assignment]

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        with _secrets_lock:
            has_secrets = bool(_secrets)
        if has_secrets:
            _scrub(record)
        last = logging.lastResort
        if last is not None and record.levelno >= last.level and not _other_handlers(record.name):
            last.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() never calls it
        pass


def _other_handlers(name: str) -> bool:
    """Whether a record of logger ``name`` meets any handler but ours on its way up."""
    log: logging.Logger | None = logging.getLogger(name)
    while log is not None:
        if any(not isinstance(h, _RedactingHandler) for h in log.handlers):
            return True
        if not log.propagate:
            return False
        log = log.parent
    return False


_FILTER = RedactingFilter()
_HANDLER = _RedactingHandler()
_guard_lock = threading.Lock()


def guard_loggers() -> None:
    """Keep registered secrets out of the records of the HTTP stack's loggers and this package's.

    Local to those loggers (``openai``, ``httpx``/``httpx2``, ``httpcore``/``httpcore2``,
    ``urllib3``, ``llmnas``); nothing global changes (no log-record factory, no change to the
    root logger or its handlers). Two layers:

    * a redacting handler, first on each of those top-level loggers: a record of any logger
      below them (``httpcore.http11``, ``llmnas.whatever``, loggers created later included)
      passes through it, and is scrubbed in place, before it reaches the handlers of the
      ancestors (the root's included);
    * a :class:`RedactingFilter` on every such logger that exists now, for a handler attached
      directly to one of them.

    Idempotent and cheap; backends call it when they register a secret or create a client.
    """
    with _guard_lock:
        for prefix in _GUARDED_PREFIXES:
            top = logging.getLogger(prefix)
            if not top.handlers or top.handlers[0] is not _HANDLER:
                # A new list, bound at once: a thread iterating the old one is not disturbed.
                top.handlers = [_HANDLER, *(h for h in top.handlers if h is not _HANDLER)]
        manager = logging.Logger.manager
        names = [n for n in list(manager.loggerDict) if n.split(".")[0] in _GUARDED_PREFIXES]
        for name in (*_GUARDED_PREFIXES, *names):
            log = logging.getLogger(name)
            if _FILTER not in log.filters:
                log.addFilter(_FILTER)


# --------------------------------------------------------------------------- exchange


@dataclass(frozen=True)
class RawAnswer:
    """What a backend's :meth:`BaseLLM._exchange` returns: the answer before parsing.

    ``mode`` is how JSON was asked for: ``"json_schema"``, ``"json_object"`` or ``"text"``.
    """

    text: str
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    mode: str = "text"
    attempts: int = 1


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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
        ...     def _exchange(self, messages, **kw):
        ...         return RawAnswer(text='{"ok": true}', model="echo")
        >>> Echo(model="echo").complete([{"role": "user", "content": "hi"}]).data
        {'ok': True}
    """

    _TRANSIENT: ClassVar[tuple[str, ...]] = ("_trace_lock",)

    def __init__(
        self,
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        trace: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | None = None,
        cache_mode: str = "readwrite",
    ) -> None:
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
        """Send ``messages`` (asking for JSON following ``schema`` when given); see :class:`LLM`.

        ``temperature``, ``seed`` and ``max_tokens`` default to the values given at
        construction. Raises :class:`LLMError` when no answer could be had.
        """
        _check_messages(messages)
        if schema is not None and not isinstance(schema, dict):
            raise ValueError(f"schema must be a dict (a JSON schema) or None, got {type(schema).__name__}")
        temperature = self.temperature if temperature is None else float(temperature)
        seed = self.seed if seed is None else seed
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        key = self.request_key(messages, schema=schema, temperature=temperature, seed=seed, max_tokens=max_tokens)

        if self.cache_dir is not None:
            hit = self._cache_read(key)
            if hit is not None:
                response = self._response_from(hit, latency_s=0.0, cached=True)
                self._usage.record(response)
                self._trace(messages, schema_name, seed, temperature, response, hit.mode, key)
                return response
            if self.cache_mode == "replay":
                self._usage.record_error()
                error = LLMError(
                    f"{self.description}: replay miss: no cached answer for request {key[:16]}… in "
                    f"{self.cache_dir} (cache_mode='replay' never contacts the endpoint)"
                )
                self._trace(messages, schema_name, seed, temperature, None, "cache", key, error=str(error))
                raise error

        start = time.monotonic()
        try:
            raw = self._exchange(
                messages,
                schema=schema,
                schema_name=schema_name,
                temperature=temperature,
                seed=seed,
                max_tokens=max_tokens,
            )
        except LLMError as exc:
            self._usage.record_error()
            safe = self._redact(str(exc))
            self._trace(messages, schema_name, seed, temperature, None, None, key, error=safe,
                        latency_s=time.monotonic() - start)
            if safe != str(exc):
                try:  # the same kind of error (a timeout stays a timeout), without the secret
                    clean = type(exc)(safe) if isinstance(exc, LLMError) else LLMError(safe)
                except Exception:
                    clean = LLMError(safe)
                raise clean from None
            raise
        latency = time.monotonic() - start
        response = self._response_from(raw, latency_s=latency, cached=False)
        if response.truncated:
            logger.warning(
                "%s: answer truncated at max_tokens=%s (finish_reason=length); %s",
                self.description,
                max_tokens,
                "salvaged the complete part of the JSON" if response.data is not None else "no JSON salvaged",
            )
        self._usage.record(response)
        if self.cache_dir is not None:
            self._cache_write(key, messages, schema, temperature, seed, max_tokens, raw)
        self._trace(messages, schema_name, seed, temperature, response, raw.mode, key, attempts=raw.attempts)
        return response

    @abstractmethod
    def _exchange(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None,
        schema_name: str,
        temperature: float | None,
        seed: int | None,
        max_tokens: int | None,
    ) -> RawAnswer:
        """One request to the model (after the backend's own retries); raises :class:`LLMError`."""

    # ------------------------------------------------------------------ cache

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
        canonical = json.dumps(
            {
                "model": self._model,
                "messages": [dict(m) for m in messages],
                "schema": schema,
                "temperature": temperature,
                "seed": seed,
                "max_tokens": max_tokens,
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _cache_file(self, key: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_read(self, key: str) -> RawAnswer | None:
        path = self._cache_file(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            answer = entry["answer"]
            usage = answer.get("usage") or {}
            return RawAnswer(
                text=answer["text"],
                finish_reason=answer.get("finish_reason", "stop"),
                usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
                model=answer.get("model", self._model),
                mode=answer.get("mode", "text"),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: ignoring unreadable cache entry %s (%s)", self.description, path, type(exc).__name__)
            return None

    def _cache_write(
        self,
        key: str,
        messages: list[Message],
        schema: dict[str, Any] | None,
        temperature: float | None,
        seed: int | None,
        max_tokens: int | None,
        raw: RawAnswer,
    ) -> None:
        entry = {
            "key": key,
            "created": _utc_now(),
            "backend": self.description,
            "request": {
                "model": self._model,
                "messages": [{k: self._redact(str(v)) for k, v in m.items()} for m in messages],
                "schema": schema,
                "temperature": temperature,
                "seed": seed,
                "max_tokens": max_tokens,
            },
            "answer": {
                "text": self._redact(raw.text),
                "finish_reason": raw.finish_reason,
                "usage": {"prompt_tokens": raw.usage.prompt_tokens, "completion_tokens": raw.usage.completion_tokens},
                "model": raw.model,
                "mode": raw.mode,
            },
        }
        path = self._cache_file(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(entry, fh, ensure_ascii=False, indent=1, default=str)
                os.replace(tmp, path)  # atomic: concurrent writers of one key are harmless
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            logger.warning("%s: could not write cache entry %s (%s)", self.description, path, exc)

    # ------------------------------------------------------------------ trace

    def _trace(
        self,
        messages: list[Message],
        schema_name: str,
        seed: int | None,
        temperature: float | None,
        response: LLMResponse | None,
        mode: str | None,
        key: str,
        *,
        error: str | None = None,
        latency_s: float | None = None,
        attempts: int | None = None,
    ) -> None:
        if self.trace_path is None:
            return
        record: dict[str, Any] = {
            "time": _utc_now(),
            "backend": self.description,
            "model": response.model if response is not None and response.model else self._model,
            "mode": mode,
            "messages": [{k: self._redact(str(v)) for k, v in m.items()} for m in messages],
            "schema_name": schema_name,
            "temperature": temperature,
            "seed": seed,
            "answer": self._redact(response.text) if response is not None else None,
            "finish_reason": response.finish_reason if response is not None else None,
            "parsed": response is not None and response.data is not None,
            "usage": (
                {"prompt_tokens": response.usage.prompt_tokens, "completion_tokens": response.usage.completion_tokens}
                if response is not None
                else None
            ),
            "latency_s": round(response.latency_s if response is not None else (latency_s or 0.0), 4),
            "cached": bool(response is not None and response.cached),
            "attempts": attempts,
            "request_key": key,
            "error": self._redact(error) if error else None,
            **current_trace_context(),  # the host's ids: study and trial, or experiment and model
        }
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        try:
            with self._trace_lock:
                self.trace_path.parent.mkdir(parents=True, exist_ok=True)
                with self.trace_path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
        except OSError as exc:
            logger.warning("%s: could not write trace %s (%s)", self.description, self.trace_path, exc)

    # ------------------------------------------------------------------ helpers

    def _response_from(self, raw: RawAnswer, *, latency_s: float, cached: bool) -> LLMResponse:
        text = raw.text or ""
        return LLMResponse(
            text=text,
            data=parse_json_answer(text),
            finish_reason=raw.finish_reason or "stop",
            usage=raw.usage,
            model=raw.model or self._model,
            latency_s=latency_s,
            cached=cached,
        )

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


def _check_messages(messages: list[Message]) -> None:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for m in messages:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"each message must be a dict with 'role' and 'content', got {m!r}")
