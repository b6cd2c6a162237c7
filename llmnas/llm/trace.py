"""The JSONL trace: one line per exchange (an answer, a cache hit or an error).

Each record carries the backend, the model, how JSON was asked for, the messages and the
answer (secrets redacted), usage, latency, attempts, the request's cache key, and the ids of
the enclosing :func:`~llmnas.llm.protocol.trace_context` (the host's study and trial, or
experiment and model).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .exchange import ChatRequest
from .protocol import LLMResponse, current_trace_context

__all__ = ["append_trace", "trace_record", "utc_now"]

logger = logging.getLogger(__name__)


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def trace_record(
    request: ChatRequest,
    response: LLMResponse | None,
    *,
    backend: str,
    model: str,
    mode: str | None,
    key: str,
    redact: Callable[[str], str],
    error: str | None = None,
    latency_s: float | None = None,
    attempts: int | None = None,
) -> dict[str, Any]:
    """The trace record of one exchange (``response`` is ``None`` for an error)."""
    return {
        "time": utc_now(),
        "backend": backend,
        "model": response.model if response is not None and response.model else model,
        "mode": mode,
        "messages": request.redacted_messages(redact),
        "schema_name": request.schema_name,
        "temperature": request.temperature,
        "seed": request.seed,
        "answer": redact(response.text) if response is not None else None,
        "finish_reason": response.finish_reason if response is not None else None,
        "parsed": response is not None and response.data is not None,
        "usage": response.usage.as_dict() if response is not None else None,
        "latency_s": round(response.latency_s if response is not None else (latency_s or 0.0), 4),
        "cached": bool(response is not None and response.cached),
        "attempts": attempts,
        "request_key": key,
        "error": redact(error) if error else None,
        **current_trace_context(),  # the host's ids: study and trial, or experiment and model
    }


def append_trace(path: Path, lock: threading.Lock, record: dict[str, Any], *, backend: str) -> None:
    """Append ``record`` as one JSON line to ``path``; a failure is only a warning."""
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    try:
        with lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(line)
    except OSError as exc:
        logger.warning("%s: could not write trace %s (%s)", backend, path, exc)
