"""Any OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp server, ...).

Built on the official ``openai`` SDK with the SDK's own retries off; retries are done here
with ``tenacity`` (rate limits honouring ``Retry-After``, timeouts, connection errors, 5xx)
with exponential backoff, jitter and a bound on the total time.

Structured output is negotiated per client: ``response_format`` ``json_schema`` first; when
the endpoint rejects it (a 4xx, or a 5xx on the very first structured attempt, which is how
the llama-cpp-python server answers ``json_schema``) at once ``json_object`` with the schema
(the llama.cpp / vLLM extension), then plain text with the schema written into the prompt
and the JSON extracted from the answer. The mode that worked is remembered by the client.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from .base import BackendOptions, BaseLLM
from .exchange import ChatRequest, RawAnswer
from .protocol import LLMError, LLMRefused, LLMTimeout, Message, Usage, llm_timeout_setting, time_left
from .redaction import guard_loggers, is_placeholder_key, redact, register_secret

if TYPE_CHECKING:
    import openai
    from typing_extensions import Unpack

__all__ = ["OpenAIChatLLM", "list_models", "OPENAI_DEFAULT_BASE_URL", "STRUCTURED_MODES"]

logger = logging.getLogger(__name__)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
STRUCTURED_MODES = ("json_schema", "json_object", "text")
PLACEHOLDER_API_KEY = "EMPTY"
"""The key sent to a custom endpoint when none is configured (local servers ignore it)."""

_RETRY_STATUS = frozenset({408, 409, 429})
_NOT_A_REJECTION = frozenset({401, 403, 404, 408, 409, 429})
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")


class _Rejected(Exception):
    """The endpoint refused this response_format; carries the SDK's error."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def safe_url(url: str) -> str:
    """``url`` without credentials, query or fragment: fit for logs and descriptions."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _is_official(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith("api.openai.com")


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def _is_retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    code = _status(exc)
    return code is not None and (code in _RETRY_STATUS or code >= 500)


def _retry_after_s(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` / ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _schema_prompt(schema: dict[str, Any]) -> str:
    return (
        "Answer with one JSON value and nothing else: no prose, no code fences. "
        "It must follow this JSON schema:\n" + json.dumps(schema, separators=(",", ":"))
    )


def _new_client(api_key: str, base_url: str, timeout: float) -> openai.OpenAI:
    """An SDK client with the SDK's own retries off (they are done here), its loggers guarded."""
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - openai is a dependency
        raise LLMError("the 'openai' package is not installed: pip install openai") from exc
    client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
    guard_loggers()
    return client


def _body(request: ChatRequest, mode: str) -> dict[str, Any]:
    """The messages and ``response_format`` of ``request`` for the structured-output ``mode``."""
    schema = request.schema
    if schema is None:
        return {"messages": [dict(m) for m in request.messages]}
    if mode == "json_schema":
        name = _SCHEMA_NAME.sub("_", request.schema_name)[:64] or "answer"
        return {
            "messages": [dict(m) for m in request.messages],
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}},
        }
    body: dict[str, Any] = {"messages": _with_schema_prompt(request.messages, schema)}
    if mode == "json_object":
        body["response_format"] = {"type": "json_object", "schema": schema}
    return body


def _with_schema_prompt(messages: list[Message], schema: dict[str, Any]) -> list[dict[str, str]]:
    """The messages with the schema instruction appended to the last user message."""
    out = [dict(m) for m in messages]
    instruction = _schema_prompt(schema)
    if out and out[-1].get("role") == "user":
        out[-1]["content"] = f"{out[-1]['content']}\n\n{instruction}"
    else:
        out.append({"role": "user", "content": instruction})
    return out


class OpenAIChatLLM(BaseLLM):
    """A chat model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    Args:
        model: the model name the endpoint knows (``"gpt-4o-mini"``, ``"qwen2.5:7b"``, ...).
        base_url: e.g. ``"http://127.0.0.1:8000/v1"``; default ``OPENAI_BASE_URL`` or OpenAI's.
        api_key: default ``OPENAI_API_KEY``; for a custom ``base_url`` without a key, the
            placeholder ``"EMPTY"``. Never logged, traced, cached or put in a message.
        timeout: seconds per attempt (connect, and each read of the answer); default 60 s,
            or ``max_total_s`` when that is shorter.
        max_retries: retries after the first attempt (rate limits, timeouts, connection
            errors, 5xx); default 4.
        max_total_s: bound on one exchange, every attempt and back-off together (default:
            ``LLMNAS_LLM_TIMEOUT``, else 60 s or an explicit ``timeout`` when longer); no retry
            starts after it. Inside a proposal the
            proposal's own time limit (``llm_timeout=`` of the samplers and strategies,
            :func:`~llmnas.llm.protocol.llm_deadline`) bounds it too.
        backoff_initial, backoff_max: exponential backoff with jitter between attempts.
        retry_after_max: cap on a server's ``Retry-After``.
        structured: ``"auto"`` (start with ``json_schema``, downgrade as needed) or the mode
            to start with: ``"json_schema"``, ``"json_object"``, ``"text"``.
        temperature, max_tokens, seed, trace, cache, cache_mode: see
            :class:`~llmnas.llm.base.BackendOptions`.

    Example (needs a reachable endpoint, so not run as a doctest)::

        llm = OpenAIChatLLM("gpt-4o-mini", base_url="http://127.0.0.1:8000/v1")
        answer = llm.complete(
            [{"role": "user", "content": "Give two widths."}],
            schema={"type": "object", "properties": {"widths": {"type": "array",
                    "items": {"type": "integer"}}}, "required": ["widths"]},
        )
        answer.data  # {'widths': [32, 64]}
    """

    _TRANSIENT: ClassVar[tuple[str, ...]] = ("_client", "_client_lock", "_mode_lock")
    honours_deadline: ClassVar[bool] = True
    """Exchanges end within the enclosing :func:`~llmnas.llm.protocol.llm_deadline`."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int = 4,
        max_total_s: float | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 16.0,
        retry_after_max: float = 60.0,
        structured: str = "auto",
        **options: Unpack[BackendOptions],
    ) -> None:
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if max_total_s is not None and (isinstance(max_total_s, bool) or not isinstance(max_total_s, (int, float))
                                        or max_total_s <= 0):
            raise ValueError(f"max_total_s must be a positive number of seconds or None, got {max_total_s!r}")
        if backoff_initial < 0 or backoff_max < backoff_initial:
            raise ValueError("backoff must satisfy 0 <= backoff_initial <= backoff_max")
        if retry_after_max < 0:
            raise ValueError(f"retry_after_max must be >= 0, got {retry_after_max!r}")
        if structured != "auto" and structured not in STRUCTURED_MODES:
            raise ValueError(f"structured must be 'auto' or one of {STRUCTURED_MODES}, got {structured!r}")
        super().__init__(model=model, **options)
        url = base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        if not re.match(r"^https?://", url):
            raise ValueError(f"base_url must start with http:// or https://, got {safe_url(url)!r}")
        self.base_url = url.rstrip("/")
        self._key_from_env = api_key is None
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key:
            replay = options.get("cache") and options.get("cache_mode") == "replay"
            if _is_official(self.base_url) and not replay:  # a replay sends nothing
                raise ValueError(
                    "OpenAIChatLLM needs an API key for api.openai.com: pass api_key=... or set OPENAI_API_KEY"
                )
            key = PLACEHOLDER_API_KEY
        self._api_key = key
        self._add_secret(key)
        total = llm_timeout_setting(max_total_s)
        if timeout is not None and max_total_s is None and not os.environ.get("LLMNAS_LLM_TIMEOUT", "").strip():
            total = max(total, float(timeout))  # an explicit request timeout is never cut short by the default
        self.timeout = float(timeout) if timeout is not None else min(60.0, total)
        self.max_retries = max_retries
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self.max_total_s = total
        self.structured = structured
        self._mode = "json_schema" if structured == "auto" else structured
        self._mode_confirmed = False
        self._downgrades_logged: set[str] = set()

    # ------------------------------------------------------------------ protocol

    @property
    def description(self) -> str:
        return f"openai:{self.model} @ {safe_url(self.base_url)}"

    @property
    def structured_mode(self) -> str:
        """The structured-output mode this client currently starts with."""
        return self._mode

    def _exchange(self, request: ChatRequest) -> RawAnswer:
        if request.schema is None:
            return self._request(request, "text", may_reject_5xx=False)
        with self._mode_lock:
            mode, confirmed = self._mode, self._mode_confirmed
        while True:
            try:
                raw = self._request(request, mode, may_reject_5xx=mode == "json_schema" and not confirmed)
            except _Rejected as rejected:
                next_mode = STRUCTURED_MODES[STRUCTURED_MODES.index(mode) + 1]
                logger.debug(
                    "%s: response_format %s refused (%s, HTTP %s); trying %s",
                    self.description,
                    mode,
                    type(rejected.error).__name__,
                    _status(rejected.error),
                    next_mode,
                )
                mode, confirmed = next_mode, False
                continue
            self._settle_mode(mode)
            return raw

    # ------------------------------------------------------------------ internals

    def _settle_mode(self, mode: str) -> None:
        with self._mode_lock:
            previous = self._mode
            self._mode, self._mode_confirmed = mode, True
            first, now = STRUCTURED_MODES.index(previous), STRUCTURED_MODES.index(mode)
            if now > first and mode not in self._downgrades_logged:
                self._downgrades_logged.add(mode)
                logger.info(
                    "%s: the endpoint does not accept response_format %s; using %s from now on",
                    self.description,
                    " or ".join(STRUCTURED_MODES[first:now]),
                    "json_object with the schema" if mode == "json_object" else "the schema in the prompt",
                )

    def _get_client(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                self._client = _new_client(self._api_key, self.base_url, self.timeout)
            return self._client

    def _request(self, request: ChatRequest, mode: str, *, may_reject_5xx: bool) -> RawAnswer:
        import openai
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_before_delay

        kwargs = {"model": self.model, **_body(request, mode), **request.sampling()}
        client = self._get_client()
        attempts = 0
        left = time_left()
        if left is not None and left <= 0.05:
            raise LLMTimeout(f"{self.description}: the proposal's time limit for the LLM ran out before this request")
        bound = self.max_total_s if left is None else min(self.max_total_s, left)
        start = time.monotonic()

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            per_attempt = max(0.05, min(self.timeout, bound - (time.monotonic() - start)))
            try:
                return client.chat.completions.create(**kwargs, timeout=per_attempt)
            except openai.APIStatusError as exc:
                code = _status(exc) or 0
                if mode != "text" and (
                    (400 <= code < 500 and code not in _NOT_A_REJECTION)
                    or (code >= 500 and may_reject_5xx and attempts == 1)
                ):
                    raise _Rejected(exc) from None
                raise

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1) | stop_before_delay(bound),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            completion = retrying(attempt)
        except _Rejected:
            raise
        except openai.APITimeoutError as exc:
            raise LLMTimeout(self._failure_message(exc, attempts) + f" (time limit {bound:.3g} s)") from None
        except openai.OpenAIError as exc:
            if _status(exc) in (401, 403, 404):
                raise LLMRefused(self._failure_message(exc, attempts)) from None
            raise LLMError(self._failure_message(exc, attempts)) from None
        return self._to_raw(completion, mode, attempts)

    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = _retry_after_s(exc) if exc is not None else None
        if after is not None:
            return min(after, self.retry_after_max)
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _log_retry(self, state: Any) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.info(
            "%s: %s%s on attempt %d/%d; retrying in %.2f s",
            self.description,
            type(exc).__name__,
            f" (HTTP {_status(exc)})" if exc is not None and _status(exc) else "",
            state.attempt_number,
            self.max_retries + 1,
            state.upcoming_sleep,
        )

    def _failure_message(self, exc: BaseException, attempts: int) -> str:
        code = _status(exc)
        detail = redact(str(getattr(exc, "message", None) or exc), self._secret_values)
        if len(detail) > 300:
            detail = detail[:300] + "…"
        retried = _is_retryable(exc)
        what = f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}" if retried else "request refused"
        return (
            f"{self.description}: {what}: {type(exc).__name__}"
            f"{f' (HTTP {code})' if code else ''}: {detail}"
        )

    def _to_raw(self, completion: Any, mode: str, attempts: int) -> RawAnswer:
        choices = getattr(completion, "choices", None) or []
        text, finish = "", "stop"
        if choices:
            choice = choices[0]
            message = getattr(choice, "message", None)
            text = (getattr(message, "content", None) or "") if message is not None else ""
            finish = getattr(choice, "finish_reason", None) or "stop"
        usage = getattr(completion, "usage", None)
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        if completion_tokens is None:  # some servers omit usage: a rough estimate
            completion_tokens = len(text) // 4 + (1 if text else 0)
        return RawAnswer(
            text=text if isinstance(text, str) else str(text),
            finish_reason=str(finish),
            usage=Usage(int(prompt_tokens or 0), int(completion_tokens or 0)),
            model=str(getattr(completion, "model", None) or self.model),
            mode=mode,
            attempts=attempts,
        )

    def _init_transient(self) -> None:
        super()._init_transient()
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()
        self._mode_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if self._key_from_env and not is_placeholder_key(self._api_key):
            # Taken from the environment: read it there again instead of pickling it.
            state["_api_key"] = None
            state["_secret_values"] = ()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if self._api_key is None:
            key = os.environ.get("OPENAI_API_KEY")
            if not key:
                key = PLACEHOLDER_API_KEY
                logger.warning("%s: unpickled without OPENAI_API_KEY in the environment", self.description)
            self._api_key = key
            self._add_secret(key)


def list_models(base_url: str, *, api_key: str | None = None, timeout: float = 10.0) -> list[str]:
    """The model ids an OpenAI-compatible endpoint lists (``GET /models``).

    Raises :class:`LLMError` (without the key in the message) when the endpoint cannot say.
    """
    import openai

    key = api_key or os.environ.get("OPENAI_API_KEY") or PLACEHOLDER_API_KEY
    register_secret(key)
    client = _new_client(key, base_url, timeout)
    try:
        return [m.id for m in client.models.list()]
    except openai.OpenAIError as exc:
        detail = redact(str(exc), [key])[:300]
        raise LLMError(f"could not list the models of {safe_url(base_url)}: {type(exc).__name__}: {detail}") from None
    finally:
        client.close()
