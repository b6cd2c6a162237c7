"""Prompt pieces every method uses: the role, the task, the space, bounded history lists.

Prompts never name a benchmark (LLMs may have memorised tabular benchmarks); a user can add
a task description. History lists are bounded so prompt size does not grow with the study.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Iterable

from ..history import History, Observation, TrialState
from ..proposals import Context
from ..space import SearchSpace

SYSTEM = (
    "You are an expert in neural network architecture design who helps an automated search. "
    "Every architecture is a set of choices, one per dimension of a search space. "
    "Answer with JSON only, following the requested format exactly."
)

DEFAULT_TASK = "Find the architecture with the best score in the search space below."


def system_message() -> dict[str, str]:
    return {"role": "system", "content": SYSTEM}


def task_block(ctx: Context) -> str:
    """The task, the score's direction and the space, as the opening of a user message."""
    return (
        f"Task: {ctx.task or DEFAULT_TASK}\n"
        f"Score: {ctx.history.direction_text()}.\n"
        "Search space (an architecture sets every dimension):\n"
        f"{ctx.space.describe()}"
    )


def format_score(history: History, obs: Observation) -> str:
    if obs.values is None:
        return "failed"
    if obs.state == TrialState.FAILED:  # a non-finite value (NaN, inf): no signal, never a score
        return "failed (no finite score)"
    text = ", ".join(f"{v:.4g}" for v in obs.values)
    if obs.state == TrialState.PRUNED:
        text += " (stopped early)"
    if not obs.feasible:
        text += " (violates a constraint)"
    return text


def format_observation(ctx: Context, obs: Observation) -> str:
    return f"{ctx.space.format_config(obs.config)} -> score {format_score(ctx.history, obs)}"


def numbered(ctx: Context, observations: Iterable[Observation]) -> str:
    lines = [f"{i}. {format_observation(ctx, o)}" for i, o in enumerate(observations, 1)]
    return "\n".join(lines) if lines else "(none yet)"


def tried_block(ctx: Context, *, top: int = 8, recent: int = 8, failures: int = 4) -> str:
    """The best and the most recent trials, the latest failures and the running ones; each
    list bounded, so the prompt does not grow with the study."""
    shown: list[Observation] = []
    seen: set = set()
    for obs in ctx.history.top(top) + ctx.history.recent(recent):
        key = ctx.space.key(obs.config)
        if key not in seen:
            seen.add(key)
            shown.append(obs)
    best = "the Pareto front first" if ctx.history.multi_objective else "the best"
    text = f"Tried so far ({len(ctx.history)} in all; {best}, then the latest):\n{numbered(ctx, shown)}"
    n_failed, latest_failed = _failures(ctx.history, ctx.space).outside(seen, failures)
    if n_failed:
        lines = "\n".join(f"- {format_observation(ctx, o)}" for o in latest_failed)
        text += f"\nFailed to train or evaluate ({n_failed} more; the latest):\n{lines}"
    if ctx.pending:
        running = "\n".join(f"- {ctx.space.format_config(c)}" for c in ctx.pending[:recent])
        text += f"\nBeing evaluated now (do not repeat):\n{running}"
    return text


class _Failures:
    """The failed observations of one history and their keys in one space, read as the history
    grows (it only grows), so a prompt's failure list costs what is new, not the study."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.read = 0
        self.failed: list[tuple[Observation, str]] = []
        self.per_key: Counter[str] = Counter()
        self.lock = threading.Lock()

    def update(self, history: History) -> "_Failures":
        with self.lock:
            for i in range(self.read, len(history)):
                obs = history[i]
                if obs.state == TrialState.FAILED:
                    key = self.space.key(obs.config)
                    self.failed.append((obs, key))
                    self.per_key[key] += 1
            self.read = len(history)
        return self

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


_FAILURES: "weakref.WeakKeyDictionary[History, _Failures]" = weakref.WeakKeyDictionary()
_FAILURES_LOCK = threading.Lock()


def _failures(history: History, space: SearchSpace) -> _Failures:
    """The failure index of ``history`` in ``space`` (rebuilt when the space object changes)."""
    with _FAILURES_LOCK:
        try:
            index = _FAILURES.get(history)
            if index is None or index.space is not space or index.read > len(history):
                index = _FAILURES[history] = _Failures(space)
        except TypeError:  # a history that cannot be weakly referenced or hashed: read it whole
            index = _Failures(space)
    return index.update(history)
