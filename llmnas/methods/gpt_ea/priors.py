"""GPT-EA's generative priors: what refills the dimensions reconstruction erased.

:class:`Prior` is the contract; :class:`LLMPrior` asks the LLM (one call per batch of
offspring). The Transformer priors live in :mod:`.transformer` (torch, imported lazily).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping

from ...prompts import gpt_ea as prompts
from ...proposals import Context, Source
from ...space import Config, Dimension

class Prior(ABC):
    """What refills erased dimensions: ``fill(ctx, partials, masked)`` returns, for each
    partial configuration, a mapping holding values for its masked dimensions (or ``None``
    when it has none to give). Extra keys are ignored; invalid values are replaced by the
    method (random values, counted as fallbacks)."""

    name: str = "prior"
    source: str = "prior"
    """The :class:`Proposal` source of an offspring the prior completed."""
    cheap: bool = False
    """Whether the method may ask again, one offspring at a time, when a completion is a
    duplicate (a local model: yes; an LLM: no, that would break the call budget)."""

    @abstractmethod
    def fill(
        self, ctx: Context, partials: list[Config], masked: list[list[str]], *, upcoming: int = 0
    ) -> list[Mapping[str, Any] | None]:
        """Values for the masked dimensions of each partial configuration. ``upcoming`` is the
        size of the batch being built (for an LLM's call budget)."""

    def models(self, dim: Dimension) -> bool:
        """Whether the prior can refill ``dim``: reconstruction erases only such dimensions
        (the others evolve by crossover and mutation alone). Default: every dimension."""
        return True

    def miss_reason(self, ctx: Context) -> str:
        """Why the prior gave nothing usable, for the fallback counters."""
        return f"{self.name} gave no usable value"

    def settings(self) -> dict[str, Any]:
        return {"prior": self.name}


class LLMPrior(Prior):
    """The LLM as the generative prior: ONE call per batch of offspring, shown the task, the
    ``top_k`` best architectures and each offspring with its erased dimensions.

    Args:
        top_k: best architectures shown as context. 5 [ours].
    """

    name = "LLM"
    source = Source.LLM

    def __init__(self, *, top_k: int = 5) -> None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}.")
        self.top_k = top_k

    def fill(
        self, ctx: Context, partials: list[Config], masked: list[list[str]], *, upcoming: int = 0
    ) -> list[Mapping[str, Any] | None]:
        if not partials:
            return []
        answer = ctx.ask_json(
            prompts.fill_messages(ctx, ctx.history.top(self.top_k), partials, masked),
            prompts.fill_schema(ctx, masked), purpose="reconstruction",
            upcoming=max(upcoming, len(partials)),
        )
        if not isinstance(answer, dict):
            return [None] * len(partials)
        out: list[Mapping[str, Any] | None] = []
        for i in range(len(partials)):
            item = answer.get(prompts.offspring_key(i))
            out.append(item if isinstance(item, dict) else None)
        return out

    def miss_reason(self, ctx: Context) -> str:
        return ctx.last_miss or "LLM call failed or answer unusable"

    def settings(self) -> dict[str, Any]:
        return {"prior": self.name, "prior_top_k": self.top_k}


def make_prior(prior: "str | Prior", corpus: Any = None, *, seed: int | None = None) -> Prior:
    """A prior from a host argument: ``"llm"``, ``"transformer"`` (needs ``corpus``) or a
    :class:`Prior` object."""
    if isinstance(prior, Prior):
        if corpus is not None:
            raise ValueError("corpus= is only used with prior='transformer'.")
        return prior
    if prior == "llm":
        if corpus is not None:
            raise ValueError("corpus= is only used with prior='transformer'.")
        return LLMPrior()
    if prior == "transformer":
        if corpus is None:
            raise ValueError("prior='transformer' needs corpus=: good architectures to train on "
                             "(a list of dicts, or a benchmark table such as NasBench201Table).")
        from .transformer import CorpusPrior  # torch-free until it is fitted; no import cycle

        return CorpusPrior(corpus, seed=0 if seed is None else int(seed))
    raise ValueError(f"prior must be 'llm', 'transformer' or a gpt_ea.Prior object, got {prior!r}.")
