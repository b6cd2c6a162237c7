"""Prompt pieces every method uses: the role, the task, the space, one trial per line.

Prompts never name a benchmark (LLMs may have memorised tabular benchmarks); a user can add
a task description. What was tried is shown by :mod:`llmnas.prompts.tried`, in a size that
does not grow with the study.
"""

from __future__ import annotations

from typing import Iterable

from ..history import History, Observation, TrialState
from ..proposals import Context

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
