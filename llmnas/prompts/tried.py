"""What a study has tried, as a prompt section whose size does not grow with the study.

Two forms (the searcher's ``prompt_history`` option, :class:`~llmnas.options.SearchOptions`):

* ``"summary"`` (the default): per dimension of the space, how often each value was tried and
  the best score reached with it (values never tried are named), so the LLM sees the whole
  study's coverage in a section sized by the space, not by the number of trials; then as many
  tried architectures as fit :data:`TRIED_CHARS` characters, the best first (an LLM that knows
  the good region proposes near the study's best, so those are the ones it would repeat), then
  the latest; then the latest failures and the running ones.
* ``"lists"``: the best ``top`` and the latest ``recent`` only, as every prompt read before
  the summary existed (recorded runs replay with it).

Each study's per-dimension counts and failures are read as the history grows (it only grows),
so a prompt costs what is new, not the whole study.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Any, Callable, Iterable, TypeVar

from ..history import History, Observation, TrialState
from ..proposals import Context
from ..space import Categorical, MultiChoice, SearchSpace, _encode_choice
from .common import format_observation, numbered

TRIED_CHARS = 10_000
"""How many characters of tried architectures a ``"summary"`` prompt lists (about 3,000
tokens; the per-dimension counts come on top, sized by the space). With an LLM that remembers
nothing between calls and answers from the top 1 % of NAS-Bench-201, 10,000 left 2.5-5
repeated answers per 100 evaluations, 6,000 left 8-14 and the best 8 and latest 8 left 15-22
(``llmnas compare --llm-quality expert-stateless``, 8 seeds, CIFAR-10 and CIFAR-100)."""

_BEST_SHARE = 0.75
"""The share of :data:`TRIED_CHARS` the best architectures may fill before the latest come."""


def tried_block(ctx: Context, *, top: int = 8, recent: int = 8, failures: int = 4) -> str:
    """What was tried, in the form ``ctx.prompt_history`` names: at least the best ``top`` and
    the latest ``recent`` trials (``"summary"``: more, and the per-dimension counts), the
    latest ``failures`` failed trials and the running ones."""
    history = ctx.history
    seen: set = set()
    if ctx.prompt_history == "summary":
        chars = (ctx.health.tried_chars if ctx.health is not None else None) or TRIED_CHARS
        best, used = _fill(ctx, history.top(len(history)), top, int(chars * _BEST_SHARE), seen)
        newest_first = (history[i] for i in range(len(history) - 1, -1, -1))
        latest, more = _fill(ctx, newest_first, recent, chars - used, seen)
        ctx.tried_budget, ctx.tried_listed = chars, used + more  # what an overflow shrinks from
        shown = best + latest[::-1]
    else:
        shown, _ = _fill(ctx, history.top(top) + history.recent(recent), len(history), 0, seen)
    first = "the Pareto front first" if history.multi_objective else "the best"
    listed = f"; {len(shown)} listed" if len(shown) < len(history) and ctx.prompt_history == "summary" else ""
    text = f"Tried so far ({len(history)} in all{listed}; {first}, then the latest):\n{numbered(ctx, shown)}"
    if ctx.prompt_history == "summary" and len(history):
        text = coverage_text(history, ctx.space) + "\n\n" + text
    n_failed, latest_failed = _index(history, ctx.space, _Failures).outside(seen, failures)
    if n_failed:
        lines = "\n".join(f"- {format_observation(ctx, o)}" for o in latest_failed)
        text += f"\nFailed to train or evaluate ({n_failed} more; the latest):\n{lines}"
    if ctx.pending:
        running = "\n".join(f"- {ctx.space.format_config(c)}" for c in ctx.pending[:recent])
        text += f"\nBeing evaluated now (do not repeat):\n{running}"
    return text


def _fill(ctx: Context, observations: Iterable[Observation], at_least: int, chars: int,
          seen: set) -> tuple[list[Observation], int]:
    """From ``observations`` in order, the ones whose keys are not in ``seen`` (added to it):
    at least ``at_least``, then more while their lines fit ``chars`` characters; and the
    characters they take."""
    out: list[Observation] = []
    used = 0
    for obs in observations:
        key = ctx.space.key(obs.config)
        if key in seen:
            continue
        size = len(format_observation(ctx, obs)) + 5  # "NN. " and the line break
        if len(out) >= at_least and used + size > chars:
            break
        seen.add(key)
        out.append(obs)
        used += size
    return out, used


def coverage_text(history: History, space: SearchSpace) -> str:
    """Per dimension of ``space``: how often each value was tried in ``history`` and the best
    score with it (single objective), values never tried named; numeric dimensions: the range
    tried and the best architecture's value."""
    return _index(history, space, _Coverage).text(history)


# --------------------------------------------------------------------------------------------
# Per-history indexes, read as the history grows
# --------------------------------------------------------------------------------------------
class _HistoryIndex:
    """What an index over one history in one space holds in common: the space, how many
    observations it has read, and a lock; :meth:`update` reads the new ones."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.read = 0
        self.lock = threading.Lock()

    def update(self, history: History) -> "_HistoryIndex":
        with self.lock:
            for i in range(self.read, len(history)):
                self.add(history, history[i])
            self.read = len(history)
        return self

    def add(self, history: History, obs: Observation) -> None:
        raise NotImplementedError


class _Failures(_HistoryIndex):
    """The failed observations and their keys."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space)
        self.failed: list[tuple[Observation, str]] = []
        self.per_key: Counter[str] = Counter()

    def add(self, history: History, obs: Observation) -> None:
        if obs.state == TrialState.FAILED:
            key = self.space.key(obs.config)
            self.failed.append((obs, key))
            self.per_key[key] += 1

    def outside(self, seen: set, latest: int) -> tuple[int, list[Observation]]:
        """How many failed observations have a key not in ``seen``, and the latest ``latest``
        of them, oldest first."""
        with self.lock:
            if latest <= 0:  # as the slice failed[-latest:] reads it
                every = [obs for obs, key in self.failed if key not in seen]
                return len(every), every[-latest:]
            count = len(self.failed) - sum(self.per_key[k] for k in seen if k in self.per_key)
            found: list[Observation] = []
            for obs, key in reversed(self.failed):
                if len(found) >= latest:
                    break
                if key not in seen:
                    found.append(obs)
        found.reverse()
        return count, found


class _Coverage(_HistoryIndex):
    """Per dimension: the count and best signed score of each choice (categorical and
    multi-choice dimensions, a choice per option) or the range tried (numeric ones)."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space)
        self.choices: dict[str, Categorical] = {
            d.name: (d._inner if isinstance(d, MultiChoice) else d)
            for d in space if isinstance(d, (Categorical, MultiChoice))
        }
        self.counts: dict[str, Counter[int]] = {name: Counter() for name in self.choices}
        self.best: dict[str, dict[int, float]] = {name: {} for name in self.choices}
        self.ranges: dict[str, list[Any]] = {}

    def add(self, history: History, obs: Observation) -> None:
        scored = obs.usable and obs.feasible and not history.multi_objective
        score = history.signed(obs)[0] if scored else None
        for dim in self.space:
            if dim.name not in obs.config:
                continue
            value = obs.config[dim.name]
            if dim.name not in self.choices:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    lo_hi = self.ranges.setdefault(dim.name, [value, value])
                    lo_hi[0], lo_hi[1] = min(lo_hi[0], value), max(lo_hi[1], value)
                continue
            inner = self.choices[dim.name]
            for item in (value if isinstance(value, (list, tuple)) and isinstance(dim, MultiChoice) else [value]):
                try:
                    i = inner.index(item)
                except ValueError:
                    continue
                self.counts[dim.name][i] += 1
                if score is not None and score > self.best[dim.name].get(i, float("-inf")):
                    self.best[dim.name][i] = score

    def text(self, history: History) -> str:
        sign = 1.0 if history.directions[0] == "maximize" else -1.0
        best = history.best()
        lines = []
        with self.lock:
            for dim in self.space:
                if dim.name in self.choices:
                    inner, counts, best_of = self.choices[dim.name], self.counts[dim.name], self.best[dim.name]
                    tried, untried = [], []
                    for i in sorted(range(len(inner.choices)), key=lambda j: -best_of.get(j, float("-inf"))):
                        shown = _shown(inner.choices[i])
                        if not counts[i]:
                            untried.append(shown)
                        elif i in best_of:
                            tried.append(f"{shown} {counts[i]}x (best {sign * best_of[i]:.4g})")
                        else:
                            tried.append(f"{shown} {counts[i]}x")
                    text = ", ".join(tried) or "nothing yet"
                    if untried:
                        text += f"; never tried: {', '.join(untried)}"
                    lines.append(f"- {dim.name}: {text}")
                elif dim.name in self.ranges:
                    lo, hi = self.ranges[dim.name]
                    at = f", the best has {best.config[dim.name]:g}" if best is not None and dim.name in best.config \
                        and isinstance(best.config[dim.name], (int, float)) else ""
                    lines.append(f"- {dim.name}: tried {lo:g} to {hi:g}{at}")
        scored = "" if history.multi_objective else ", and the best score reached with it"
        return ("Every value tried so far, per dimension (how many architectures used it" + scored
                + "; best values first):\n" + "\n".join(lines))


def _shown(choice: Any) -> str:
    encoded = _encode_choice(choice)
    return encoded if isinstance(encoded, str) else repr(encoded)


_I = TypeVar("_I", bound=_HistoryIndex)
_INDEXES: "weakref.WeakKeyDictionary[History, dict[type, _HistoryIndex]]" = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def _index(history: History, space: SearchSpace, kind: Callable[[SearchSpace], _I]) -> _I:
    """The ``kind`` index of ``history`` in ``space``, brought up to date (rebuilt when the
    space object changes or the history is not the one it read)."""
    with _INDEXES_LOCK:
        try:
            per_kind = _INDEXES.setdefault(history, {})
            index = per_kind.get(kind)  # type: ignore[call-overload]
            if index is None or index.space is not space or index.read > len(history):
                index = per_kind[kind] = kind(space)  # type: ignore[index]
        except TypeError:  # a history that cannot be weakly referenced or hashed: read it whole
            index = kind(space)
    return index.update(history)  # type: ignore[return-value]


__all__ = ["TRIED_CHARS", "coverage_text", "tried_block"]
