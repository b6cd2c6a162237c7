"""CoLLM-NAS prompts: the Navigator's (stateful: a conversation rebuilt from knowledge) and
the Generator's (stateless). Written for this project; see ALGORITHMS.md for the method."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..history import Observation
from ..proposals import Context
from .common import format_observation, numbered, task_block
from .tried import tried_block

NAVIGATOR_SYSTEM = (
    "You are the Navigator of a neural architecture search. You do not write architectures: "
    "you write and revise the exploration strategy that another model (the Generator) follows. "
    "Explore diversely first, then focus on what works. Answer with JSON only."
)

GENERATOR_SYSTEM = (
    "You are the Generator of a neural architecture search. You turn an exploration strategy "
    "into concrete architectures: each sets every dimension of the search space to an allowed "
    "value, and each is new. Answer with JSON only."
)

SECTIONS = ("summary", "key_patterns", "directions", "constraints")
"""The Navigator's answer: a summary of what is known, key patterns, navigation directions per
dimension, and optional constraints / ranges / examples."""

NAVIGATOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 240},
        "key_patterns": {"type": "string", "maxLength": 240},
        "directions": {"type": "string", "maxLength": 400},
        "constraints": {"type": "string", "maxLength": 200},
    },
    "required": ["summary", "directions"],
    "additionalProperties": False,
}


def goal_text(ctx: Context, target: float | None, limit: str | None) -> str:
    parts = []
    if target is not None:
        parts.append(f"Target score: {target:g} (the search stops once an architecture reaches it).")
    if limit:
        parts.append(f"Resource limit: {limit} (architectures over it are rejected before evaluation).")
    if ctx.budget is not None:
        parts.append(f"Evaluation budget: {ctx.budget} architectures in all.")
    return "\n".join(parts)


def opening(ctx: Context, target: float | None, limit: str | None, prior: Mapping[str, Any] | None = None) -> str:
    """The Navigator's first user message: the space and the goal (and ``prior``, a strategy
    imported from an earlier study on a related task)."""
    goal = goal_text(ctx, target, limit)
    earlier = (f"A strategy from an earlier search on a related task (use what applies):\n{format_strategy(prior)}"
               if prior else "")
    return "\n\n".join(p for p in (
        task_block(ctx),
        goal,
        earlier,
        "Write the first exploration strategy. Put diversity first: cover different values of "
        "every dimension before narrowing down. Sections: \"summary\" (what is known), "
        "\"key_patterns\" (what seems to matter), \"directions\" (what to try, per dimension), "
        "\"constraints\" (optional: values or ranges to avoid or prefer). Be brief.",
    ) if p)


def feedback(ctx: Context, results: Sequence[Observation], target: float | None, best: Observation | None) -> str:
    """The user message after a round: its results and the best so far against the target."""
    best_text = format_observation(ctx, best) if best is not None else "(nothing evaluated successfully yet)"
    gap = ""
    if target is not None and best is not None and best.value is not None:
        gap = f" Target {target:g}: {'reached' if _meets(ctx, best.value, target) else 'not reached yet'}."
    return "\n\n".join((
        f"Results of the last round ({len(results)} architectures):\n{numbered(ctx, results)}",
        f"Best so far ({len(ctx.history)} evaluated):\n{best_text}.{gap}",
        f"Top architectures:\n{numbered(ctx, ctx.history.top(5))}",
        "Revise the strategy: keep what worked, drop what did not, and name the next directions. "
        "Same sections as before. Be brief.",
    ))


def _meets(ctx: Context, value: float, target: float) -> bool:
    return value >= target if ctx.history.directions[0] == "maximize" else value <= target


def navigator_messages(
    ctx: Context, exchanges: Sequence[Mapping[str, Any]], message: str
) -> list[dict[str, str]]:
    """The Navigator's conversation: the system role, the earlier exchanges (each a user
    message and the strategy it produced) and the new user message."""
    messages = [{"role": "system", "content": NAVIGATOR_SYSTEM}]
    for exchange in exchanges:
        messages.append({"role": "user", "content": str(exchange["message"])})
        messages.append({"role": "assistant", "content": format_strategy(exchange["strategy"])})
    messages.append({"role": "user", "content": message})
    return messages


def format_strategy(strategy: Mapping[str, Any]) -> str:
    lines = [f"{name}: {strategy[name]}" for name in SECTIONS if str(strategy.get(name) or "").strip()]
    return "\n".join(lines) or "(no strategy)"


def generator_messages(
    ctx: Context, strategy: Mapping[str, Any], n: int, target: float | None, limit: str | None
) -> list[dict[str, str]]:
    """The Generator's single message: strategy, visited set (bounded), and the request."""
    goal = goal_text(ctx, target, limit)
    parts = [
        task_block(ctx),
        goal,
        f"Exploration strategy from the Navigator:\n{format_strategy(strategy)}",
        tried_block(ctx, top=10, recent=10),
        f"Propose {n} diverse architectures that follow the strategy. Each must be valid, "
        "different from every architecture listed above (visited) and from each other. "
        'Answer as {"architectures": [{<dimension>: <value>, ...}, ...]}.',
    ]
    return [{"role": "system", "content": GENERATOR_SYSTEM},
            {"role": "user", "content": "\n\n".join(p for p in parts if p)}]
