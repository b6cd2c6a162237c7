"""Getting JSON out of what a language model wrote.

Models wrap JSON in code fences, add prose around it, or stop mid-way when they run out of
tokens. :func:`parse_json_answer` copes with all three and returns ``None`` when nothing
usable is there.

>>> parse_json_answer('Sure! ```json\\n{"a": 1}\\n```')
{'a': 1}
>>> parse_json_answer('{"architectures": [{"op": "conv"}, {"op": "skip"}, {"op": ')
{'architectures': [{'op': 'conv'}, {'op': 'skip'}]}
>>> parse_json_answer("no json here") is None
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["parse_json_answer"]

_FENCE_OPEN = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n?")
_OPENERS = {"{": "}", "[": "]"}
_MAX_START_POSITIONS = 200
"""At most this many opening brackets are tried as the start of a JSON value."""
_MAX_SALVAGE_TRIES = 400
"""At most this many cut points are tried when salvaging a truncated value."""


def parse_json_answer(text: str | None) -> Any | None:
    """Parse the JSON value in a model's answer, or return ``None``.

    In order: the whole text (code fences stripped) as JSON; the first balanced ``{...}`` or
    ``[...]`` that is valid JSON; a truncated object or array salvaged by keeping its complete
    items and closing the open brackets. A bare scalar (``3``, ``"x"``) counts only when it is
    the whole answer. Empty containers salvaged from a truncation do not count as usable.
    """
    if not text or not text.strip():
        return None
    for candidate in _candidates(text):
        value = _parse_candidate(candidate)
        if value is not None:
            return value
    return None


def _candidates(text: str) -> list[str]:
    """The texts to try: fenced blocks first (the model's own framing), then the raw text."""
    out: list[str] = []
    for match in _FENCE_OPEN.finditer(text):
        start = match.end()
        end = text.find("```", start)
        block = text[start:] if end < 0 else text[start:end]
        if block.strip():
            out.append(block)
    out.append(text)
    return out


def _parse_candidate(text: str) -> Any | None:
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    tried = 0
    i = _next_opener(stripped, 0)
    while i >= 0 and tried < _MAX_START_POSITIONS:
        tried += 1
        end = _matching_close(stripped, i)
        if end is not None:
            try:
                return json.loads(stripped[i : end + 1])
            except ValueError:
                pass
        else:
            salvaged = _salvage(stripped, i)
            if salvaged is not None:
                return salvaged
        i = _next_opener(stripped, i + 1)
    return None


def _next_opener(text: str, start: int) -> int:
    positions = [p for p in (text.find("{", start), text.find("[", start)) if p >= 0]
    return min(positions) if positions else -1


def _outside_strings(text: str, start: int) -> Iterator[tuple[int, str]]:
    """``(index, character)`` of each character from ``start`` on that is outside every JSON
    string (the quotes themselves excluded): the text's structure."""
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        else:
            yield i, ch


def _matching_close(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at ``start`` (string-aware), or ``None``."""
    stack: list[str] = []
    for i, ch in _outside_strings(text, start):
        if ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif ch in "}]":
            if not stack or stack[-1] != ch:
                return None
            stack.pop()
            if not stack:
                return i
    return None


def _salvage(text: str, start: int) -> Any | None:
    """Close a truncated object/array after its last complete item.

    Walks the text once, remembering each place where a complete value has just ended
    (before a comma, after a closing bracket, just inside an opening ``[``) with the brackets
    then open. Cuts that drop a half-written item whole (the innermost open container is an
    array, or the outermost object) are tried first, latest first; cuts inside a nested
    object (which keep part of an item) only after them.
    """
    clean: list[tuple[int, str]] = []
    partial: list[tuple[int, str]] = []
    stack: list[str] = []

    def cut_at(pos: int) -> None:
        entry = (pos, "".join(reversed(stack)))
        (clean if stack[-1] == "]" or len(stack) == 1 else partial).append(entry)

    for i, ch in _outside_strings(text, start):
        if ch in _OPENERS:
            stack.append(_OPENERS[ch])
            if ch == "[":
                cut_at(i + 1)
        elif ch in "}]":
            if not stack or stack[-1] != ch:
                break
            stack.pop()
            if not stack:
                break
            cut_at(i + 1)
        elif ch == ",":
            cut_at(i)
    candidates = list(reversed(clean)) + list(reversed(partial))
    for tries, (cut, closers) in enumerate(candidates):
        if tries >= _MAX_SALVAGE_TRIES:
            break
        try:
            value = json.loads(text[start:cut] + closers)
        except ValueError:
            continue
        if value:
            return value
    return None
