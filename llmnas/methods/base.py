"""The contract between a search method and the hosts.

A method is a function of the history and the shared knowledge: given a :class:`Context`
it returns ``n`` proposals. It keeps no hidden state that only one process has, so several
workers (Optuna processes on one storage, NNI trials in flight) agree without talking.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..history import History
from ..proposals import Context, Proposal
from ..provenance import LLM_SOURCES
from ..space import Config
from .operators import mutate_or_random


class Method(ABC):
    """A search method: ``propose(ctx, n)`` returns ``n`` new configurations (fewer only when
    the space is exhausted).

    Subclasses set ``name`` and ``batch_size`` (proposals asked of the LLM per call) and
    implement :meth:`propose`; :meth:`fallback` is the method's own non-LLM operator.
    """

    name: str = "method"
    batch_size: int = 5
    llm_roles: tuple[str, ...] = ()
    """Roles that may have an LLM of their own (e.g. CoLLM-NAS's navigator and generator)."""
    llm_arm_sources: frozenset[str] = LLM_SOURCES
    """The provenance labels (and sources) of the proposals the LLM's knowledge made: the LLM's
    arm of the searcher's trust rule (:mod:`llmnas.trust`); every other label of the method is
    its operator's arm. LAPT adds its evolution inside the LLM's principles. Empty: the rule
    never splits the method's batches."""
    llm_calls_per_batch: bool = True
    """Whether each batch the LLM proposes costs LLM calls (SEKI, CoLLM-NAS, GPT-EA): the trust
    rule then makes a trusted LLM's batches larger, fewer calls for as many architectures.
    LAPT's calls follow its adaptation schedule instead, so its batches keep their size (the
    rule's calls budget holds for every method)."""

    @abstractmethod
    def propose(self, ctx: Context, n: int) -> list[Proposal]:
        """``n`` new configurations for the host to evaluate."""

    def fallback(self, ctx: Context, n: int, taken: set) -> list[Config]:
        """The non-LLM operator: mutations of good configurations, else random ones."""
        return mutate_or_random(ctx.space, ctx.history, ctx.rng, n, taken)

    def problems(self, config: Config) -> list[str]:
        """The method's own legality rules (e.g. a resource limit), checked with the host's:
        the problems of ``config``, empty when it may be evaluated."""
        return []

    def stop_reason(self, history: History) -> str | None:
        """Why the search should stop now (e.g. a target score was reached), or ``None``."""
        return None

    @property
    def has_stop_rule(self) -> bool:
        """Whether :meth:`stop_reason` may ever stop the search (e.g. CoLLM-NAS: only with a
        target), so hosts and the searcher skip building what it reads when it cannot."""
        return type(self).stop_reason is not Method.stop_reason

    def budget_hint(self) -> int | None:
        """The evaluation budget the method plans with when the host does not say."""
        return None

    def settings(self) -> dict[str, Any]:
        """The method's hyper-parameters, for logs and study summaries."""
        return {}
