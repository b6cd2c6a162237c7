"""How prompts show what was tried (``prompt_history``, :mod:`llmnas.prompts.tried`): the
summary's per-dimension counts are the study's, its listing is bounded and best-first, and
the ``"lists"`` form is the one recorded runs replay with."""

from __future__ import annotations

import re

import numpy as np
import pytest

from llmnas.history import History, Observation, TrialState
from llmnas.knowledge import InMemoryKnowledge
from llmnas.options import SearchOptions
from llmnas.proposals import Context
from llmnas.prompts.tried import TRIED_CHARS, tried_block
from llmnas.space import Categorical, Float, SearchSpace

SPACE = SearchSpace([
    Categorical("op", ["conv", "pool", "skip", "zero"]),
    Categorical("width", [16, 32, 64]),
    Float("lr", 1e-4, 1e-1, log=True),
])


def _study(n: int, seed: int = 0, direction: str = "maximize") -> tuple[Context, History]:
    rng = np.random.default_rng(seed)
    history = History(directions=[direction])
    for _ in range(n):
        config = SPACE.sample(rng)
        config["op"] = ["conv", "pool", "skip"][int(rng.integers(3))]  # "zero" is never tried
        if rng.random() < 0.1:
            history.add(Observation(config, None, TrialState.FAILED))
        else:
            history.add(Observation(config, (float(rng.normal()),)))
    ctx = Context(space=SPACE, history=history, knowledge=InMemoryKnowledge(), llm=None, rng=rng)
    return ctx, history


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_summary_counts_every_value_and_its_best_score(direction):
    ctx, history = _study(300, direction=direction)
    text = tried_block(ctx)
    line = next(t for t in text.splitlines() if t.startswith("- op:"))
    for op in ("conv", "pool", "skip"):
        with_op = [o for o in history if o.config["op"] == op]
        scored = [o.value for o in with_op if o.usable]
        best = max(scored) if direction == "maximize" else min(scored)
        assert f"{op} {len(with_op)}x (best {best:.4g})" in line
    assert line.endswith("never tried: zero")
    # best values first: the order of the values follows their best scores
    bests = [float(b) for b in re.findall(r"best ([-\d.e]+)\)", line)]
    assert bests == sorted(bests, reverse=direction == "maximize")
    lr = [o.config["lr"] for o in history]
    assert f"- lr: tried {min(lr):g} to {max(lr):g}, the best has {history.best().config['lr']:g}" in text


def test_the_listing_is_bounded_best_first_and_grows_with_the_room_it_has():
    ctx, history = _study(2_000, seed=1)
    text = tried_block(ctx)
    listed = re.findall(r"^\d+\. (.*) -> score", text, flags=re.M)
    assert f"(2000 in all; {len(listed)} listed;" in text
    assert 16 < len(listed) < 200
    assert sum(len(line) + 20 for line in listed) <= TRIED_CHARS + 400  # the budget, give or take a line
    formatted = [SPACE.format_config(o.config) for o in history.top(len(listed))]
    best_shown = [line for line in listed if line in formatted]
    assert listed[:len(best_shown)] == formatted[:len(best_shown)] and len(best_shown) >= 0.6 * len(listed)
    assert SPACE.format_config(history[len(history) - 1].config) in listed  # the latest is shown too
    assert len(tried_block(_study(20_000, seed=2)[0])) < 2 * len(text)  # ten times the trials: no longer


def test_the_lists_form_shows_the_best_8_and_the_latest_8_only():
    ctx, history = _study(100, seed=3)
    ctx.prompt_history = "lists"
    text = tried_block(ctx)
    assert "per dimension" not in text
    listed = re.findall(r"^\d+\. (.*) -> score", text, flags=re.M)
    expected = list(dict.fromkeys(SPACE.format_config(o.config) for o in history.top(8) + history.recent(8)))
    assert listed == expected


def test_an_empty_study_and_an_unknown_form():
    ctx, _ = _study(0)
    assert tried_block(ctx) == "Tried so far (0 in all; the best, then the latest):\n(none yet)"
    with pytest.raises(ValueError, match=r"prompt_history must be one of \('summary', 'lists'\), got 'all'"):
        SearchOptions(prompt_history="all")


def test_a_prompt_over_the_context_window_shortens_the_later_listings():
    """An error that says the prompt exceeded the model's context window (llama.cpp's, an
    OpenAI-compatible endpoint's) halves what later prompts list; other errors change nothing."""
    from llmnas.llm.protocol import LLMError
    from llmnas.proposals import LLMHealth

    ctx, _ = _study(2_000, seed=4)
    ctx.health = LLMHealth()
    full = len(tried_block(ctx))
    assert ctx._shorten(LLMError("connection reset")) == "" and ctx.health.tried_chars is None
    note = ctx._shorten(LLMError("local: ValueError: Requested tokens (8626) exceed context window of 8192"))
    assert "at most 5000 characters" in note and ctx.health.tried_chars == TRIED_CHARS // 2
    half = len(tried_block(ctx))
    assert half < full - TRIED_CHARS // 3
    ctx._shorten(LLMError("This model's maximum context length is 4096 tokens"))
    ctx._shorten(LLMError("context_length_exceeded"))  # a call made alongside, with the same prompt
    assert ctx.health.tried_chars == TRIED_CHARS // 4, "one prompt shrinks the listing once"
    assert len(tried_block(ctx)) < half
    for _ in range(10):
        tried_block(ctx)
        ctx._shorten(LLMError("context_length_exceeded"))
    assert ctx.health.tried_chars == 1000  # never below: the best few stay listed

    small, _ = _study(30, seed=4)  # a listing far under the budget: halved from what it listed
    small.health = LLMHealth()
    tried_block(small)
    assert small.tried_listed < TRIED_CHARS // 2
    small._shorten(LLMError("context_length_exceeded"))
    assert small.health.tried_chars == max(1000, small.tried_listed // 2)
