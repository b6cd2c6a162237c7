"""SEKI's three prompts: strategy (self-evolution call A), generation (call B), and
knowledge inspiration. Written for this project; see ALGORITHMS.md for the method."""

from __future__ import annotations

from ..history import Observation
from ..proposals import Context
from .common import format_observation, numbered, system_message, task_block
from .tried import tried_block

STRATEGY_SCHEMA = {
    "type": "object",
    "properties": {"strategy": {"type": "string", "maxLength": 600}},
    "required": ["strategy"],
    "additionalProperties": False,
}


def strategy_messages(
    ctx: Context, current: Observation | None, previous: str | None, prior: str | None = None
) -> list[dict[str, str]]:
    """Call A: read the current architecture and write an optimisation strategy in words
    (``prior``: knowledge imported from an earlier study, shown until this study has its own)."""
    if current is None:
        focus = "Nothing has been evaluated yet."
        ask = ("Write a strategy for the first architectures to try: which choices are "
               "promising and how to cover the space.")
    else:
        focus = f"Current architecture:\n{format_observation(ctx, current)}"
        ask = ("Analyse the current architecture against the best ones and write an optimisation "
               "strategy: which dimensions to change, to which values, and why.")
    parts = [task_block(ctx), focus, f"Best so far:\n{numbered(ctx, ctx.history.top(5))}"]
    if previous:
        parts.append(f"Your previous strategy:\n{previous}")
    elif prior:
        parts.append(f"Knowledge from an earlier search on a related task (use what applies):\n{prior}")
    parts.append(ask + ' At most 120 words. Answer as {"strategy": "..."}.')
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]


def generation_messages(ctx: Context, strategy: str, current: Observation | None, n: int) -> list[dict[str, str]]:
    """Call B: apply the strategy to the current architecture, ``n`` new architectures."""
    parts = [task_block(ctx), f"Optimisation strategy to follow:\n{strategy}"]
    if current is not None:
        parts.append(f"Current architecture:\n{format_observation(ctx, current)}")
    parts.append(tried_block(ctx))
    parts.append(
        f"Propose {n} new architectures that apply the strategy"
        + (" to the current architecture" if current is not None else "")
        + ". Each must be different from every architecture listed above and from each other. "
        'Answer as {"architectures": [{<dimension>: <value>, ...}, ...]}.'
    )
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]


def inspiration_messages(ctx: Context, examples: list[Observation], n: int) -> list[dict[str, str]]:
    """Knowledge inspiration: find the common patterns of good architectures, then propose."""
    parts = [
        task_block(ctx),
        f"High-scoring architectures from the repository of the best:\n{numbered(ctx, examples)}",
        tried_block(ctx),
        "First write in \"patterns\" what these high-scoring architectures have in common "
        f"(at most 80 words). Then propose {n} new architectures that follow those patterns and "
        "are different from every architecture listed above and from each other. "
        'Answer as {"patterns": "...", "architectures": [{<dimension>: <value>, ...}, ...]}.',
    ]
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]
