"""GPT-EA's one prompt: fill the masked dimensions of a batch of GA offspring (the
"reconstruction" step), given their kept dimensions and the best architectures so far.
Written for this project; see ALGORITHMS.md for the method."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from ..history import Observation
from ..proposals import Context
from ..space import _encode_choice
from .common import numbered, system_message, task_block
from .tried import tried_block

MASK = "?"
"""How a masked dimension is shown in the prompt."""


def offspring_key(i: int) -> str:
    """The answer's property name for offspring ``i`` (0-based)."""
    return f"offspring_{i + 1}"


def fill_schema(ctx: Context, masked: Sequence[Sequence[str]]) -> dict[str, Any]:
    """One object per offspring holding exactly its masked dimensions (so the answer cannot
    change a kept dimension), each constrained by the space's own schema."""
    properties: dict[str, Any] = {}
    for i, names in enumerate(masked):
        properties[offspring_key(i)] = {
            "type": "object",
            "properties": {name: ctx.space[name].json_schema() for name in names},
            "required": list(names),
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _partial_text(ctx: Context, partial: Mapping[str, Any], masked: Sequence[str]) -> str:
    shown = {
        d.name: (MASK if d.name in masked else _encode_choice(partial[d.name]))
        for d in ctx.space if d.name in partial or d.name in masked
    }
    return json.dumps(shown, separators=(", ", ": "))


_FAILED_SHOWN = 4
"""The latest failed trials a reconstruction prompt shows (none when nothing failed)."""


def fill_messages(
    ctx: Context,
    best: Sequence[Observation],
    partials: Sequence[Mapping[str, Any]],
    masked: Sequence[Sequence[str]],
) -> list[dict[str, str]]:
    """The reconstruction prompt: the task, what was tried (``"lists"``: the ``best``
    architectures and the latest failures), the partial offspring."""
    lines = [
        f"{offspring_key(i)}: {_partial_text(ctx, p, m)}  (fill: {', '.join(m)})"
        for i, (p, m) in enumerate(zip(partials, masked))
    ]
    if ctx.prompt_history == "summary":  # what was tried per dimension, the best and the latest that fit
        tried = [tried_block(ctx, top=len(best), recent=0, failures=_FAILED_SHOWN)]
    else:
        failed = [o for o in ctx.history.recent(_FAILED_SHOWN * 4) if not o.usable][-_FAILED_SHOWN:]
        tried = [f"Best architectures so far:\n{numbered(ctx, best)}",
                 *([f"Recent architectures that failed (no score):\n{numbered(ctx, failed)}"] if failed else [])]
    parts = [
        task_block(ctx),
        *tried,
        "An evolutionary search bred the architectures below; the dimensions shown as "
        f'"{MASK}" were erased. The other dimensions are fixed.\n' + "\n".join(lines),
        "For each one, choose values for its erased dimensions only, so that the completed "
        "architecture is likely to score well: follow what the best architectures have in "
        "common, stay coherent with the fixed dimensions, and prefer completions that differ "
        "from the architectures listed above. "
        'Answer as {"offspring_1": {<erased dimension>: <value>, ...}, "offspring_2": ...}.',
    ]
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]
