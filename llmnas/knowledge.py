"""Knowledge: what an LLM wrote that other workers and later studies need.

Entries are JSON values under string keys that name the step they belong to (for example
``"seki/strategy/12"``). The first writer of a key wins: a later ``put`` of the same key
returns the value already stored, so several workers that reach the same step agree on one
answer. NNI strategies keep an :class:`InMemoryKnowledge` (saved in ``state_dict``); Optuna
samplers keep it in study system attributes so processes on one storage share it.

A store exports to a JSON file with its provenance and imports from one, in either host.

Example:
    >>> k = InMemoryKnowledge()
    >>> k.put("seki/strategy/0", "widen the convolutions")
    'widen the convolutions'
    >>> k.put("seki/strategy/0", "something else")  # first writer wins
    'widen the convolutions'
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Mapping

FORMAT = "llmnas-knowledge/1"
TRANSFER_PREFIX = "transfer/"
"""Where knowledge imported from another study lives (see :meth:`KnowledgeStore.load`)."""

TRUST_PREFIX = "trust/"
"""The trust rule's record of this study's LLM (:mod:`llmnas.trust`): not transferred to another
study, whose LLM earns its own."""


class KnowledgeStore(ABC):
    """A key → JSON value store with first-writer-wins ``put``."""

    @abstractmethod
    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or ``None``."""

    @abstractmethod
    def put(self, key: str, value: Any) -> Any:
        """Store ``value`` unless ``key`` holds one already; return the value that holds."""

    @abstractmethod
    def items(self) -> dict[str, Any]:
        """All entries."""

    def latest(self, prefix: str) -> tuple[int, Any] | None:
        """The entry ``prefix/<n>`` with the largest integer ``n``, as ``(n, value)``."""
        best: tuple[int, Any] | None = None
        for key, value in self.items().items():
            head, _, tail = key.rpartition("/")
            if head == prefix.rstrip("/") and tail.isdecimal():  # (not "²": isdigit, but no int)
                if best is None or int(tail) > best[0]:
                    best = (int(tail), value)
        return best

    def export(self, path: str | Path, *, provenance: Mapping[str, Any] | None = None) -> Path:
        """Write every entry to a JSON file with where it came from."""
        path = Path(path)
        document = {
            "format": FORMAT,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "provenance": dict(provenance or {}),
            "entries": self.items(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, sort_keys=True))
        return path

    def load(self, path: str | Path, *, transfer: bool = False) -> dict[str, Any]:
        """Add the entries of an exported file (keys already present keep their value);
        return the file's provenance.

        ``transfer=False`` continues the study that wrote the file (a resumed or sibling
        study: its steps are this study's steps). ``transfer=True`` imports it as knowledge
        from *another* study: every entry goes under ``transfer/<key>`` (with the file's
        provenance under ``transfer/provenance``), where methods read it as prior knowledge
        (SEKI's first strategy prompt, CoLLM-NAS's opening, LAPT's principles when no
        source is given) without mistaking it for this study's own steps."""
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read a knowledge file: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"{path}: not a knowledge file (expected format {FORMAT!r}).")
        provenance = dict(document.get("provenance") or {})
        prefix = TRANSFER_PREFIX if transfer else ""
        for key, value in document.get("entries", {}).items():
            if transfer and key.startswith((TRANSFER_PREFIX, TRUST_PREFIX)):
                continue  # what that study imported, or how its LLM did, is not what it learned
            self.put(prefix + key, value)
        if transfer:
            self.put(TRANSFER_PREFIX + "provenance", {**provenance, "file": str(path),
                                                       "created": document.get("created")})
        return provenance

    def transferred(self, prefix: str) -> tuple[int, Any] | None:
        """The latest ``prefix/<n>`` entry imported from another study (``load(...,
        transfer=True)``), or ``None``."""
        return self.latest(TRANSFER_PREFIX + prefix)


class InMemoryKnowledge(KnowledgeStore):
    """A knowledge store in process memory (thread-safe, picklable)."""

    def __init__(self, entries: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Any] = {}
        self._latest: dict[str, tuple[int, str]] = {}  # prefix -> (largest n, its key): latest() in O(1)
        for key, value in (entries or {}).items():
            self._insert(key, value)

    def _insert(self, key: str, value: Any) -> Any:
        """``setdefault`` that keeps the :meth:`latest` index (callers hold the lock)."""
        if key in self._entries:
            return self._entries[key]
        self._entries[key] = value
        head, _, tail = key.rpartition("/")
        if tail.isdigit():
            try:
                n = int(tail)
            except ValueError:  # a non-ASCII digit: never an entry of latest()
                return value
            known = self._latest.get(head)
            if known is None or n > known[0]:  # on ties the first written wins, as in a scan
                self._latest[head] = (n, key)
        return value

    def get(self, key: str) -> Any | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, value: Any) -> Any:
        json.dumps(value)  # refuse what cannot be stored or exported
        with self._lock:
            return self._insert(key, value)

    def latest(self, prefix: str) -> tuple[int, Any] | None:
        with self._lock:
            known = self._latest.get(prefix.rstrip("/"))
            return (known[0], self._entries[known[1]]) if known is not None else None

    def items(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._entries)

    def __getstate__(self) -> dict[str, Any]:
        return {"entries": self.items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["entries"])  # type: ignore[misc]
