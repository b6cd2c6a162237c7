"""Secrets out of every record: registration, :func:`redact` and the guarded loggers.

Every secret a backend holds (an API key) is registered with :func:`register_secret`; it is
then replaced by ``***`` wherever :func:`redact` is applied (the trace, the cache, exception
messages) and in the records of the HTTP stack's loggers and this package's, once
:func:`guard_loggers` has run. Placeholders (``"EMPTY"``, very short keys) are no secrets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "guard_loggers",
    "is_placeholder_key",
    "redact",
    "register_secret",
]

REDACTED = "***"

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
