"""The on-disk response cache: one JSON file per request, keyed by the request's sha256.

An entry lives at ``<dir>/<key[:2]>/<key>.json`` and holds the request (secrets redacted)
and the answer with the token usage of the original exchange, so that budgets behave the
same on a replay. Writes are atomic (a temporary file, then a rename), so concurrent
writers of one key are harmless; an unreadable entry is a miss, with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .exchange import ChatRequest, RawAnswer
from .protocol import Usage
from .trace import utc_now

__all__ = ["CACHE_MODES", "cache_file", "read_cached", "read_cached_error", "write_cached"]

logger = logging.getLogger(__name__)

CACHE_MODES = ("readwrite", "replay")
"""``"readwrite"`` serves hits and stores misses; ``"replay"`` serves hits and fails on a miss."""


def cache_file(cache_dir: Path, key: str) -> Path:
    """Where the entry of ``key`` lives under ``cache_dir``."""
    return cache_dir / key[:2] / f"{key}.json"


def read_cached(cache_dir: Path, key: str, *, default_model: str, description: str) -> RawAnswer | None:
    """The cached answer of ``key``, or ``None`` (a miss, a cached error, or an unreadable entry)."""
    path = cache_file(cache_dir, key)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if "error" in entry and "answer" not in entry:
            return None
        answer = entry["answer"]
        return RawAnswer(
            text=answer["text"],
            finish_reason=answer.get("finish_reason", "stop"),
            usage=Usage.from_dict(answer.get("usage")),
            model=answer.get("model", default_model),
            mode=answer.get("mode", "text"),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("%s: ignoring unreadable cache entry %s (%s)", description, path, type(exc).__name__)
        return None


def read_cached_error(cache_dir: Path, key: str) -> str | None:
    """The error cached for ``key`` (a request that always fails the same way, such as one
    over the model's context window), or ``None``."""
    try:
        entry = json.loads(cache_file(cache_dir, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    error = entry.get("error") if isinstance(entry, dict) and "answer" not in entry else None
    return str(error) if error else None


def write_cached(
    cache_dir: Path,
    key: str,
    request: ChatRequest,
    raw: RawAnswer | str,
    *,
    model: str,
    description: str,
    redact: Callable[[str], str],
) -> None:
    """Store ``raw`` as the answer of ``request`` (``key``), or a string as the error the
    request always meets; a failure to write is only a warning."""
    entry = {
        "key": key,
        "created": utc_now(),
        "backend": description,
        "request": {
            "model": model,
            "messages": request.redacted_messages(redact),
            "schema": request.schema,
            "temperature": request.temperature,
            "seed": request.seed,
            "max_tokens": request.max_tokens,
        },
    }
    if isinstance(raw, str):
        entry["error"] = redact(raw)
    else:
        entry["answer"] = {
            "text": redact(raw.text),
            "finish_reason": raw.finish_reason,
            "usage": raw.usage.as_dict(),
            "model": raw.model,
            "mode": raw.mode,
        }
    path = cache_file(cache_dir, key)
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
        logger.warning("%s: could not write cache entry %s (%s)", description, path, exc)
