"""CoLLM-NAS: a Navigator LLM, a Generator LLM and a Coordinator in code (arXiv 2509.26037).

- **Navigator** (stateful): writes a diversity-first exploration strategy from the space and
  the goal, then after every round of ``round_size`` evaluations gets the round's results (and
  the best so far against the target) and revises it. Its answer has sections: ``summary``,
  ``key_patterns``, ``directions`` (per dimension) and optional ``constraints``.
- **Generator** (stateless): gets the current strategy and the visited set (bounded) and
  returns ``batch_size`` diverse, valid, unseen architectures.
- **Coordinator** (this class and the shared pipeline): legality (the host's rules plus the
  resource limit, checked *before* evaluation), deduplication against the visited archive,
  best-within-limit tracking (the history ranks feasible trials first) and the stop rule:
  once the best feasible architecture reaches ``target``, the host stops (NNI: no more
  submissions; Optuna: ``study.stop()``).

**The Navigator's memory lives in knowledge**, not in a process: round ``r`` (``r`` =
finished evaluations // ``round_size``, so every worker agrees) is the entry
``collm/navigator/<r>`` holding the user message the Navigator got and the strategy it wrote
(first writer wins). The conversation is rebuilt from the opening exchange and the latest
``navigator_memory`` rounds, so the prompt stays bounded and a resumed or distributed search
continues the same conversation. A strategy imported from another study
(``knowledge.load(path, transfer=True)``) is shown in the Navigator's opening message. A round whose Navigator call failed keeps the previous
strategy (entry ``source: "kept"``; logged) and is left out of the conversation.

The Navigator and the Generator may be two endpoints: hosts take ``navigator_llm=`` and
``generator_llm=`` (roles ``"navigator"`` and ``"generator"``), or one ``llm=`` for both.
"""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any, Callable, Mapping

import numpy as np

from ..history import History, Observation, TrialState
from ..prompts import collm_nas as prompts
from ..proposals import Context, Proposal
from ..space import Config
from .base import Method

logger = logging.getLogger(__name__)

KEY = "collm/navigator"

ResourceLimit = Callable[[Config], Any]
"""A user rule on an architecture: ``True`` (or a number ≤ 0) when it is within the limit."""

DEFAULT_STRATEGY = {
    "summary": "Nothing is known yet.",
    "key_patterns": "",
    "directions": "Cover every value of every dimension before narrowing down.",
    "constraints": "",
}


class CoLLMNAS(Method):
    """CoLLM-NAS as a host-agnostic method (hosts wrap it for NNI and Optuna).

    Example:
        >>> from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace, Searcher
        >>> from llmnas.proposals import TargetReached
        >>> space = SearchSpace([Categorical(f"e{i}", [1, 2, 3]) for i in range(3)])
        >>> small = lambda config: sum(config.values()) <= 7          # a resource limit
        >>> method = CoLLMNAS(target=7, resource_limit=small, resource_description="sum <= 7")
        >>> searcher = Searcher(method, seed=0, use_llm=False)        # the Coordinator alone
        >>> history, knowledge = History(), InMemoryKnowledge()
        >>> try:
        ...     for _ in range(27):
        ...         [p] = searcher.next_proposals(space, history, [], knowledge)
        ...         assert small(p.config)                            # never over the limit
        ...         history.add(Observation(p.config, (sum(p.config.values()),)))
        ... except TargetReached as stop:
        ...     pass
        >>> history.best().value, len(history) < 27
        (7, True)

    Args:
        target: the target score; the search stops once the best architecture within the
            limit reaches it (``>=`` when maximizing, ``<=`` when minimizing). ``None``: run
            the whole budget. Single-objective studies only.
        resource_limit: a callable on the architecture (the host's configuration dict)
            returning ``True`` (or a number ≤ 0, Optuna's constraint convention) when it is
            within the limit, e.g. a FLOPs or parameter count check. Over-limit proposals are
            rejected before evaluation and re-asked. ``None``: no limit (host constraints such
            as Optuna's ``constraints_func`` still rank infeasible trials last).
        resource_description: the limit in words for the prompts (e.g. ``"at most 1M
            parameters"``).
        round_size: evaluations per Navigator round. About 5 on NAS-Bench-201 [paper].
        batch_size: architectures the Generator is asked for per call. The paper asks for
            10–20 and evaluates about 5 per round on NAS-Bench-201 [paper]; 5 [ours] so one
            round is one Generator call. A batch larger than a round spans rounds: the
            Navigator then revises once per batch, shown every result since its last revision.
        navigator_memory: earlier rounds kept in the Navigator's conversation (beyond the
            opening). The paper keeps the Navigator's memory on and the Generator's off, its
            best setting on larger tasks [paper]; 4 rounds [ours] bound the prompt. 0 makes the
            Navigator stateless (an ablation).
        budget: evaluations planned when the host does not say. ≤ 100 on NAS-Bench-201 [paper].

    The paper serves Qwen3-30B-A3B locally at temperature 0.6 for both roles, thinking on
    [paper]; pass ``temperature=0.6`` to the host class to match.
    """

    name = "CoLLM-NAS"
    llm_roles = ("navigator", "generator")

    def __init__(
        self,
        *,
        target: float | None = None,
        resource_limit: ResourceLimit | None = None,
        resource_description: str | None = None,
        round_size: int = 5,
        batch_size: int = 5,
        navigator_memory: int = 4,
        budget: int = 100,
    ) -> None:
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))
                                   or not math.isfinite(target)):
            raise ValueError(f"target must be a finite number or None, got {target!r}.")
        if resource_limit is not None and not callable(resource_limit):
            raise ValueError("resource_limit must be a callable taking the architecture (a dict) and "
                             f"returning True when it is within the limit; got {type(resource_limit).__name__}.")
        if resource_description is not None and not isinstance(resource_description, str):
            raise ValueError(f"resource_description must be a string or None, got {resource_description!r}.")
        for name, value, low in (("round_size", round_size, 1), ("batch_size", batch_size, 1),
                                 ("navigator_memory", navigator_memory, 0), ("budget", budget, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        self.target = None if target is None else float(target)
        self.resource_limit = resource_limit
        self.resource_description = resource_description
        self.round_size = round_size
        self.batch_size = batch_size
        self.navigator_memory = navigator_memory
        self.budget = budget
        self._warned_multi = False

    def budget_hint(self) -> int:
        return self.budget

    def settings(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "resource_limit": getattr(self.resource_limit, "__name__", type(self.resource_limit).__name__)
            if self.resource_limit is not None else None,
            "round_size": self.round_size,
            "batch_size": self.batch_size,
            "navigator_memory": self.navigator_memory,
            "budget": self.budget,
        }

    @property
    def limit_text(self) -> str | None:
        if self.resource_description:
            return self.resource_description
        return "a user-defined check (hidden)" if self.resource_limit is not None else None

    # -- the Coordinator -------------------------------------------------------------------------
    def problems(self, config: Config) -> list[str]:
        if self.resource_limit is None:
            return []
        try:
            verdict = self.resource_limit(config)
        except Exception as exc:  # a user check that fails on one architecture rejects it, loudly
            logger.warning("CoLLM-NAS: the resource limit raised %s on %s: rejected", type(exc).__name__, config)
            return [f"the resource limit could not be checked ({type(exc).__name__}: {exc})"]
        if isinstance(verdict, (bool, np.bool_)) or not isinstance(verdict, numbers.Real):
            fits = bool(verdict)
        else:  # a number (numpy's too): Optuna's convention, <= 0 is within the limit
            fits = float(verdict) <= 0
        if fits:
            return []
        return [f"over the resource limit ({self.limit_text})"]

    def within_limit(self, config: Config) -> bool:
        return not self.problems(config)

    def best_within_limit(self, history: History) -> Observation | None:
        """The best complete, feasible architecture within the resource limit (an enqueued or
        host-chosen trial over the limit may rank above it). Reads the ranking from the top in
        growing slices, so it costs about the rank of the answer (the best, usually), and the
        limit is checked once per architecture read."""
        read, k = 0, 8
        while True:
            top = history.top(k)
            for obs in top[read:]:
                if obs.feasible and obs.state == TrialState.COMPLETE and self.within_limit(obs.config):
                    return obs
            if len(top) < k:
                return None
            read, k = k, 4 * k

    @property
    def has_stop_rule(self) -> bool:
        return self.target is not None

    def stop_reason(self, history: History) -> str | None:
        if self.target is None:
            return None
        if history.multi_objective:
            if not self._warned_multi:
                self._warned_multi = True
                logger.warning("CoLLM-NAS: target= is ignored in a multi-objective study.")
            return None
        best = self.best_within_limit(history)
        if best is None or best.value is None:
            return None
        maximize = history.directions[0] == "maximize"
        if (best.value >= self.target) if maximize else (best.value <= self.target):
            return f"target {self.target:g} reached: {best.value:g} after {len(history)} evaluations"
        return None

    # -- one batch: the Navigator's strategy for this round, then the Generator -------------------
    def round(self, ctx: Context) -> int:
        return len(ctx.history) // self.round_size

    def propose(self, ctx: Context, n: int) -> list[Proposal]:
        strategy = self.strategy(ctx, n)
        # No Generator LLM (use_llm=False, or none could be set up): no prompt to write.
        messages = [] if ctx.llm_for("generator") is None else \
            prompts.generator_messages(ctx, strategy, n, self.target, self.limit_text)
        proposals, _ = ctx.ask_proposals(messages, n, self.fallback, purpose="generator", role="generator",
                                         rationale=strategy)
        return proposals

    def strategy(self, ctx: Context, upcoming: int) -> Mapping[str, Any]:
        """The Navigator's strategy for the current round (asked once per round). In the trust
        rule's operator slots (:attr:`Context.operator_turn`) the Navigator is not consulted and
        nothing is written: the operator's proposals do not follow a strategy, and its view of the
        study (fewer trials) would number the round wrongly and take the round from the LLM."""
        if ctx.operator_turn:
            entries = _entries(ctx)
            return entries[-1][1]["strategy"] if entries else dict(DEFAULT_STRATEGY)
        r = self.round(ctx)
        entry = ctx.knowledge.get(f"{KEY}/{r}")
        if entry is None:
            entry = ctx.knowledge.put(f"{KEY}/{r}", self._navigate(ctx, r, upcoming))
        else:
            logger.debug("CoLLM-NAS round %d: strategy written by another worker", r)
        return entry["strategy"]

    def _navigate(self, ctx: Context, r: int, upcoming: int) -> dict[str, Any]:
        entries = _entries(ctx)
        previous = entries[-1][1] if entries else None
        if ctx.llm_for("navigator") is None:  # no Navigator LLM: keep the strategy, write no prompt
            ctx.last_miss = ctx._no_llm_reason()
            kept = previous["strategy"] if previous else dict(DEFAULT_STRATEGY)
            logger.info("CoLLM-NAS round %d: no new strategy (%s); keeping %s", r, ctx.last_miss,
                        "the previous one" if previous else "the default one")
            return {"round": r, "source": "kept", "evaluated": len(ctx.history), "message": "", "strategy": kept}
        talked = [e for _, e in entries if e.get("source") == "llm"]
        if not talked or self.navigator_memory == 0:
            exchanges: list[Mapping[str, Any]] = []
            imported = ctx.knowledge.transferred(KEY)
            prior = imported[1].get("strategy") if imported and isinstance(imported[1], Mapping) else None
            message = prompts.opening(ctx, self.target, self.limit_text, prior)
        else:
            exchanges = talked[:1] + talked[1:][-self.navigator_memory:]
            message = ""
        if len(ctx.history):
            # Every result since the previous revision (more than one round when batches are
            # larger than rounds), bounded so the prompt does not grow.
            since = int(previous.get("evaluated", 0)) if previous else 0
            since = since if since >= 0 else max(0, len(ctx.history) + since)  # as a slice would read it
            start = max(since, len(ctx.history) - max(self.round_size, self.batch_size, 5) * 2)
            results = [ctx.history[i] for i in range(start, len(ctx.history))]
            fb = prompts.feedback(ctx, results, self.target, self.best_within_limit(ctx.history) or ctx.history.best())
            message = f"{message}\n\n{fb}" if message else fb
        answer = ctx.ask_json(prompts.navigator_messages(ctx, exchanges, message), prompts.NAVIGATOR_SCHEMA,
                              purpose="navigator", upcoming=upcoming, role="navigator")
        strategy = _clean(answer)
        if strategy is not None:
            logger.info("CoLLM-NAS round %d: Navigator: %s", r, _short(prompts.format_strategy(strategy)))
            return {"round": r, "source": "llm", "evaluated": len(ctx.history), "message": message,
                    "strategy": strategy}
        kept = previous["strategy"] if previous else dict(DEFAULT_STRATEGY)
        logger.info("CoLLM-NAS round %d: no new strategy (%s); keeping %s", r,
                    ctx.last_miss or "no answer", "the previous one" if previous else "the default one")
        return {"round": r, "source": "kept", "evaluated": len(ctx.history), "message": message, "strategy": kept}

    @staticmethod
    def navigator_log(where: Context | Any) -> list[dict[str, Any]]:
        """The Navigator's rounds, oldest first (from a context or a knowledge store)."""
        knowledge = where.knowledge if isinstance(where, Context) else where
        return [entry for _, entry in _entries_of(knowledge)]


def _entries(ctx: Context) -> list[tuple[int, dict[str, Any]]]:
    return _entries_of(ctx.knowledge)


def _entries_of(knowledge: Any) -> list[tuple[int, dict[str, Any]]]:
    prefix = KEY + "/"
    out = []
    for key, value in knowledge.items().items():
        tail = key[len(prefix):]
        if key.startswith(prefix) and tail.isdigit() and isinstance(value, Mapping) and "strategy" in value:
            out.append((int(tail), dict(value)))
    return sorted(out, key=lambda kv: kv[0])


def _clean(answer: Any) -> dict[str, str] | None:
    if not isinstance(answer, Mapping):
        return None
    strategy = {name: " ".join(str(answer.get(name) or "").split()) for name in prompts.SECTIONS}
    if not strategy["directions"] and not strategy["summary"]:
        return None
    return strategy


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
