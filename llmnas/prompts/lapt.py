"""LAPT's prompts: learn design principles and a refined space from a source, update them when
the search improves, and suggest other options (from the original principles) when it is stuck.
Written for this project; see ALGORITHMS.md for the method."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from ..history import History, Observation
from ..proposals import Context
from ..space import Categorical, Float, Integer, SearchSpace
from .common import format_score, system_message, task_block
from .tried import tried_block


def restrictable(space: SearchSpace) -> list[Any]:
    """The dimensions a whitelist restricts: categorical ones (a subset of the choices) and
    numeric ones (a sub-range). Others (multi-choice) stay whole."""
    return [d for d in space if isinstance(d, (Categorical, Integer, Float))]


def principles_schema(space: SearchSpace, max_options: int, architectures: int = 0) -> dict[str, Any]:
    """The JSON schema of a learning/adaptation answer: step-by-step reasoning, principles in
    words, and a whitelist with, per categorical dimension, 1..``max_options`` of its choices
    and, per numeric dimension, a sub-range; with ``architectures``, that many architectures of
    the space besides (the ones the LLM expects to score best under its principles)."""
    properties: dict[str, Any] = {}
    for dim in restrictable(space):
        if isinstance(dim, Categorical):
            properties[dim.name] = {
                "type": "array", "items": {"enum": dim.encoded_choices},
                "minItems": 1, "maxItems": max(1, min(max_options, len(dim.choices))), "uniqueItems": True,
            }
        else:
            bound = dim.json_schema()
            properties[dim.name] = {
                "type": "object", "properties": {"low": bound, "high": bound},
                "required": ["low", "high"], "additionalProperties": False,
            }
    answer: dict[str, Any] = {
        "reasoning": {"type": "string", "maxLength": 800},
        "principles": {"type": "string", "maxLength": 800},
        "whitelist": {
            "type": "object", "properties": properties,
            "required": list(properties), "additionalProperties": False,
        },
    }
    if architectures > 0:
        answer["architectures"] = space.proposals_schema(architectures)["properties"]["architectures"]
    return {"type": "object", "properties": answer, "required": list(answer), "additionalProperties": False}


def _listing(space: SearchSpace, history: History, observations: Sequence[Observation]) -> str:
    lines = [f"{i}. {space.format_config(o.config)} -> score {format_score(history, o)}"
             for i, o in enumerate(observations, 1)]
    return "\n".join(lines) if lines else "(none)"


def format_whitelist(whitelist: Mapping[str, Any]) -> str:
    return "\n".join(f"- {name}: {json.dumps(value)}" for name, value in whitelist.items()) or "(none)"


def _answer_format(max_options: int, architectures: int = 0) -> str:
    written = "" if architectures <= 0 else (
        f' Under "architectures" write {architectures} architectures of this task made of whitelisted '
        "values, the ones you expect to score best, none of those listed above (the search tries them first).")
    return (
        'Answer as {"reasoning": "...", "principles": "...", "whitelist": {<dimension>: [<value>, ...], ...}'
        + (', "architectures": [...]' if architectures > 0 else "") + "}: "
        f"for every one-of dimension list 1 to {max_options} of its values to keep; for a numeric "
        'dimension give {"low": ..., "high": ...}. Reason step by step in "reasoning" (at most 150 '
        'words); write the principles in at most 120 words.' + written
    )


def learn_messages(ctx: Context, source: History, examples: Sequence[Observation], description: str,
                   max_options: int, architectures: int = 0) -> list[dict[str, str]]:
    """Stage A: read good architectures of a source task, write design principles and the
    per-dimension whitelist that makes the refined search space."""
    parts = [
        task_block(ctx),
        f"Good architectures of a source task ({description}), best first, with their scores "
        f"there ({source.direction_text()}):\n{_listing(ctx.space, source, examples)}",
        "Study what the best of them share and what the worst lack. Write general design "
        "principles that should carry over to the task above, and turn them into a whitelist: "
        f"for each dimension, the at most {max_options} values most likely to give good "
        "architectures. The search will then only try architectures made of whitelisted values.",
        _answer_format(max_options, architectures),
    ]
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]


def update_messages(ctx: Context, current: Mapping[str, Any], found: Sequence[Observation],
                    max_options: int, architectures: int = 0) -> list[dict[str, str]]:
    """Adaptation after an improvement: refine the current principles with the best found."""
    parts = [
        task_block(ctx),
        f"Current design principles:\n{current.get('text', '')}",
        f"Current whitelist (the refined search space):\n{format_whitelist(current.get('whitelist', {}))}",
        "The search improved since the principles were last revised. The best architectures "
        f"found on this task so far:\n{_listing(ctx.space, ctx.history, found)}",
        "Update the principles and the whitelist so they explain these results and point to "
        "even better architectures.",
        _answer_format(max_options, architectures),
    ]
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]


def explore_messages(ctx: Context, original: Mapping[str, Any], current: Mapping[str, Any],
                     found: Sequence[Observation], max_options: int, architectures: int = 0) -> list[dict[str, str]]:
    """Adaptation when stuck: from the original principles, suggest other options."""
    parts = [
        task_block(ctx),
        f"Original design principles:\n{original.get('text', '')}",
        f"Whitelist searched so far:\n{format_whitelist(current.get('whitelist', {}))}",
        "The search has not improved since the last revision; it may be stuck in a poor region. "
        f"The best architectures found so far:\n{_listing(ctx.space, ctx.history, found)}",
        "Starting again from the original principles, suggest other options: a whitelist that "
        "tries values the search has not yet focused on, where the principles allow them.",
        _answer_format(max_options, architectures),
    ]
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]


def warm_start_messages(ctx: Context, n: int) -> list[dict[str, str]]:
    """The LLM's slots before principles exist (a warm start under the trust rule) [ours]:
    ``n`` architectures of this task that the LLM expects to score best, from what it knows."""
    parts = [
        task_block(ctx),
        tried_block(ctx),
        "Design principles for this task will be learned from its first evaluations. Before "
        f"that, propose {n} architectures you expect to score best on it, from what you know "
        "about such tasks, each different from every architecture listed above and from each other. "
        'Answer as {"architectures": [{<dimension>: <value>, ...}, ...]}.',
    ]
    return [system_message(), {"role": "user", "content": "\n\n".join(parts)}]
