"""Knowledge shared by every process of a study, kept in the study's system attributes.

Optuna's storages offer no compare-and-set, so "first writer wins" is built from plain
writes: every ``put`` adds its own uniquely named attribute
``llmnas:knowledge:<key>@<time_ns>-<uuid>``, and every reader takes, for each key, the entry
whose suffix sorts first (the earliest write, ties broken by the random id). All processes
therefore agree on one value per key as soon as the writes are visible to them. A writer
first looks for an existing value (and then writes nothing); after writing it re-reads and
returns the winner, which may be another process's value.

Values must be JSON (Optuna 5.0 stores system attributes as JSON: no numpy scalars).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from llmnas.knowledge import KnowledgeStore

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.study import Study

__all__ = ["KNOWLEDGE_PREFIX", "StudyKnowledge"]

KNOWLEDGE_PREFIX = "llmnas:knowledge:"
_MAX_KEY_LENGTH = 400  # RDB storages index attribute names up to 512 characters.
_MISSING = object()


class StudyKnowledge(KnowledgeStore):
    """A :class:`~llmnas.knowledge.KnowledgeStore` over one study's system attributes,
    first writer wins across threads and processes (see the module docstring).

    Args:
        storage: the study's storage (``study._storage``).
        study_id: the study's id (``study._study_id``).

    Example:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> knowledge = StudyKnowledge.of(study)
        >>> knowledge.put("seki/strategy/0", "widen the convolutions")
        'widen the convolutions'
        >>> StudyKnowledge.of(study).put("seki/strategy/0", "something else")
        'widen the convolutions'
    """

    def __init__(self, storage: BaseStorage, study_id: int) -> None:
        self._storage = storage
        self._study_id = study_id

    @classmethod
    def of(cls, study: Study) -> "StudyKnowledge":
        """The knowledge of ``study`` (also works on the bracket view HyperbandPruner gives
        samplers, which keeps ``_storage`` and ``_study_id``)."""
        return cls(study._storage, study._study_id)

    # -- the store -----------------------------------------------------------------------
    def _winners(self, start: str = "") -> dict[str, tuple[str, Any]]:
        """The winning ``(stamp, value)`` of each key that begins with ``start`` (only those
        attributes are parsed: a read costs one pass over the names, not a parse of every entry)."""
        attrs = self._storage.get_study_system_attrs(self._study_id)
        begin = KNOWLEDGE_PREFIX + start
        winners: dict[str, tuple[str, Any]] = {}
        for name, value in attrs.items():
            if not name.startswith(begin):
                continue
            key, sep, stamp = name[len(KNOWLEDGE_PREFIX):].rpartition("@")
            if not sep or not key:
                continue
            if key not in winners or stamp < winners[key][0]:
                winners[key] = (stamp, value)
        return winners

    def _lookup(self, key: str) -> Any:
        winner = self._winners(key).get(key)
        return _MISSING if winner is None else winner[1]

    def get(self, key: str) -> Any | None:
        value = self._lookup(key)
        return None if value is _MISSING else value

    def latest(self, prefix: str) -> tuple[int, Any] | None:
        head = prefix.rstrip("/")
        best: tuple[int, Any] | None = None
        for key, (_, value) in self._winners(head + "/" if head else "").items():
            parent, _, tail = key.rpartition("/")
            if parent == head and tail.isdecimal() and (best is None or int(tail) > best[0]):
                best = (int(tail), value)
        return best

    def put(self, key: str, value: Any) -> Any:
        if not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH:
            raise ValueError(f"a knowledge key must be a non-empty string of at most {_MAX_KEY_LENGTH} characters, got {key!r}.")
        json.dumps(value)  # refuse what a storage cannot hold (TypeError)
        existing = self._lookup(key)
        if existing is not _MISSING:
            return existing
        stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
        self._storage.set_study_system_attr(self._study_id, f"{KNOWLEDGE_PREFIX}{key}@{stamp}", value)
        winner = self._lookup(key)
        return value if winner is _MISSING else winner

    def items(self) -> dict[str, Any]:
        return {key: value for key, (_, value) in sorted(self._winners().items())}
