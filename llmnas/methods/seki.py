"""SEKI: self-evolution, then knowledge inspiration (arXiv 2502.20422).

Over a budget of ``n = λ + γ`` evaluations:

- **Self-evolution** (the first λ): call A shows the LLM the current architecture with its
  score and asks for an optimisation strategy in words; call B gives that strategy and the
  current architecture and asks for new architectures (a batch, so one call can fill several
  idle workers). The "current" architecture is the best so far, the latest on ties
  (``current="best"``) or simply the latest one (``current="latest"``).
- **Knowledge inspiration** (the last γ): the repository holds the top-k architectures;
  ξ of them, drawn at random for diversity, are shown to the LLM, which names their common
  patterns and proposes new architectures that follow them.

The phase is a function of how many architectures were proposed (finished + running), so
workers agree on it. Strategies and patterns the LLM writes are knowledge entries keyed by
the step (``seki/strategy/<n>``, ``seki/patterns/<n>``): the first writer wins, and a worker
that reaches a step whose strategy exists reuses it instead of calling the LLM again.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from ..history import Observation
from ..prompts import seki as prompts
from ..proposals import Context, Proposal
from .base import Method

logger = logging.getLogger(__name__)

DEFAULT_STRATEGY = (
    "Explore broadly: vary every dimension, favour choices that add capacity where the best "
    "architectures have it, and avoid repeating what was tried."
)


class SEKI(Method):
    """SEKI as a host-agnostic method. Hosts wrap it: ``SEKIStrategy`` (NNI), ``SEKISampler``
    (Optuna).

    Args:
        budget: planned evaluations n = λ + γ. Paper ablation: n = 50 [2nd-hand summary];
            a host that knows its budget passes it instead.
        self_evolution_fraction: λ / n. Not stated in the paper; 0.6 [ours].
        top_k: size of the knowledge repository (the best architectures). 10 [ours].
        n_inspiration: ξ, how many repository entries are shown per inspiration call. 5 [ours].
        batch_size: proposals per generation call, so one call fills several workers. 5 [ours].
        current: which architecture self-evolution refines: ``"best"`` (the best so far, latest
            on ties) or ``"latest"``. The paper does not say [ours: "best"].

    Example:
        >>> from llmnas.methods import SEKI
        >>> seki = SEKI(budget=40)
        >>> seki.settings()["self_evolution_steps"]
        24
    """

    name = "SEKI"

    def __init__(
        self,
        *,
        budget: int = 50,
        self_evolution_fraction: float = 0.6,
        top_k: int = 10,
        n_inspiration: int = 5,
        batch_size: int = 5,
        current: Literal["best", "latest"] = "best",
    ) -> None:
        for name, value in (("budget", budget), ("top_k", top_k), ("n_inspiration", n_inspiration),
                            ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}.")
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}.")
        if isinstance(self_evolution_fraction, bool) or not isinstance(self_evolution_fraction, (int, float)) \
                or not 0.0 <= self_evolution_fraction <= 1.0:
            raise ValueError(f"self_evolution_fraction must be a number in [0, 1], got {self_evolution_fraction!r}.")
        if top_k < 1 or n_inspiration < 1:
            raise ValueError(f"top_k and n_inspiration must be >= 1, got {top_k} and {n_inspiration}.")
        if n_inspiration > top_k:
            raise ValueError(f"n_inspiration ({n_inspiration}) cannot exceed top_k ({top_k}).")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if current not in ("best", "latest"):
            raise ValueError(f"current must be 'best' or 'latest', got {current!r}.")
        self.budget = budget
        self.self_evolution_fraction = self_evolution_fraction
        self.top_k = top_k
        self.n_inspiration = n_inspiration
        self.batch_size = batch_size
        self.current = current

    @property
    def self_evolution_steps(self) -> int:
        return round(self.self_evolution_fraction * self.budget)

    def budget_hint(self) -> int:
        return self.budget

    def settings(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "self_evolution_steps": self.self_evolution_steps,
            "top_k": self.top_k,
            "n_inspiration": self.n_inspiration,
            "batch_size": self.batch_size,
            "current": self.current,
        }

    def phase(self, ctx: Context) -> str:
        issued = len(ctx.history) + len(ctx.pending)
        budget = ctx.budget if ctx.budget is not None else self.budget  # the host's budget wins
        steps = round(self.self_evolution_fraction * budget)
        return "self-evolution" if issued < steps else "knowledge-inspiration"

    def repository(self, ctx: Context) -> list[Observation]:
        """The knowledge repository: the top-k architectures so far, best first."""
        return ctx.history.top(self.top_k)

    def propose(self, ctx: Context, n: int) -> list[Proposal]:
        if self.phase(ctx) == "knowledge-inspiration" and ctx.history.n_usable:
            return self._inspire(ctx, n)
        return self._self_evolve(ctx, n)

    # -- the two stages ----------------------------------------------------------------------
    def _current(self, ctx: Context) -> Observation | None:
        if self.current == "latest":
            last = ctx.history.recent_usable(1)
            return last[-1] if last else None
        return ctx.history.best()

    def _self_evolve(self, ctx: Context, n: int) -> list[Proposal]:
        current = self._current(ctx)
        step = len(ctx.history)
        key = f"seki/strategy/{step}"
        strategy = ctx.knowledge.get(key)
        if strategy is None:
            previous = ctx.knowledge.latest("seki/strategy")
            answer = None if ctx.llm_for(None) is None else ctx.ask_json(  # no LLM: no prompt to write
                prompts.strategy_messages(ctx, current, previous[1] if previous else None,
                                          None if previous else transferred_knowledge(ctx)),
                prompts.STRATEGY_SCHEMA, purpose="strategy", upcoming=n,
            )
            text = answer.get("strategy") if isinstance(answer, dict) else None
            if isinstance(text, str) and text.strip():
                strategy = ctx.knowledge.put(key, text.strip())
                logger.info("SEKI step %d: strategy: %s", step, _short(strategy))
            else:
                strategy = previous[1] if previous else DEFAULT_STRATEGY
                logger.info("SEKI step %d: no new strategy; using %s", step,
                            "the previous one" if previous else "the default one")
        else:
            logger.debug("SEKI step %d: reusing the strategy another worker wrote", step)
        messages = [] if ctx.llm_for(None) is None else prompts.generation_messages(ctx, strategy, current, n)
        proposals, _ = ctx.ask_proposals(messages, n, self.fallback, purpose="self-evolution", rationale=strategy)
        return proposals

    def _inspire(self, ctx: Context, n: int) -> list[Proposal]:
        repository = self.repository(ctx)
        k = min(self.n_inspiration, len(repository))
        picks = sorted(ctx.rng.choice(len(repository), size=k, replace=False).tolist())
        examples = [repository[i] for i in picks]
        messages = [] if ctx.llm_for(None) is None else prompts.inspiration_messages(ctx, examples, n)
        proposals, answer = ctx.ask_proposals(
            messages, n, self.fallback,
            purpose="knowledge-inspiration",
            extra_properties={"patterns": {"type": "string", "maxLength": 400}},
        )
        ctx.knowledge.put(f"seki/repository/{len(ctx.history)}", [  # the repository as it was shown
            {"config": ctx.space.encode(o.config), "values": list(o.values or ())} for o in repository])
        patterns = answer.get("patterns")
        if isinstance(patterns, str) and patterns.strip():
            ctx.knowledge.put(f"seki/patterns/{len(ctx.history)}", patterns.strip())
            logger.info("SEKI step %d: patterns: %s", len(ctx.history), _short(patterns))
        return proposals


def transferred_knowledge(ctx: Context) -> str | None:
    """What an earlier SEKI study wrote (its last strategy and patterns), imported with
    ``knowledge.load(path, transfer=True)``; ``None`` when nothing was imported."""
    parts = []
    for prefix, label in (("seki/patterns", "Patterns of its best architectures"), ("seki/strategy", "Its last strategy")):
        found = ctx.knowledge.transferred(prefix)
        if found is not None and isinstance(found[1], str):
            parts.append(f"{label}: {found[1]}")
    return "\n".join(parts) or None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
