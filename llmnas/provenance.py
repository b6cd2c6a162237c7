"""Where a proposal came from: :class:`Source`, :class:`Proposal` and the provenance labels
hosts show (Optuna's ``llmnas_source`` user attribute, NNI's ``provenance()``).

Re-exported by :mod:`llmnas.proposals`, where methods and hosts import them from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

from .space import Config


class Source(str, Enum):
    """Where a proposal came from. A ``str`` enum: a member equals its value (``Source.LLM ==
    "llm"``) and prints as it, so traces, summaries and provenance labels read as before.

    Example:
        >>> Source("llm-reask") is Source.LLM_REASK, Source.LLM == "llm", f"{Source.FALLBACK}"
        (True, True, 'fallback')
    """

    LLM = "llm"
    """The LLM's first answer."""
    LLM_REASK = "llm-reask"
    """The LLM's answer to the re-ask (its first answer was invalid or a duplicate)."""
    FALLBACK = "fallback"
    """The method's own operator standing in for the LLM (the proposal's reason says why)."""
    STAND_IN = "stand-in"
    """Under the trust rule, a proposal the method made in the LLM's slots that is not the LLM's
    answer (an answer that was invalid, a duplicate or missing, filled by the method's operator;
    GPT-EA's offspring with no erased gene): neither source's for the rule, and kept out of the
    operator's view like the LLM's architectures (:mod:`llmnas.operator_view`)."""
    EVOLUTION = "evolution"
    """LAPT's regularized evolution inside the learned principles."""
    GA = "ga"
    """GPT-EA's crossover and mutation (an offspring with no erased dimension)."""
    INIT = "init"
    """GPT-EA's random initial population."""
    PRIOR = "prior"
    """GPT-EA's offspring completed by a non-LLM prior (e.g. its Transformer)."""
    HOST_FALLBACK = "host-fallback"
    """The host picked the configuration itself (e.g. the searcher failed)."""
    FIXED = "fixed"
    RANDOM = "random"
    EXHAUSTED = "exhausted"
    NONE = "none"
    RESTORED = "restored"
    RESUBMITTED = "resubmitted"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass(frozen=True)
class Proposal:
    """One configuration to evaluate and where it came from.

    ``source`` is a :class:`Source`: ``LLM`` (first answer), ``LLM_REASK`` (answer to the
    re-ask), ``FALLBACK`` (the method's own operator standing in) or one of a method's own
    operators (LAPT's ``EVOLUTION``, GPT-EA's ``GA``, ``INIT``, ``PRIOR``); a string is turned
    into its member (a custom method's own operator name that is none stays a string);
    ``reason`` says why a fallback was used; ``rationale`` is the LLM's reasoning behind an LLM
    proposal (e.g. SEKI's strategy), at most :data:`RATIONALE_CHARS` characters.
    :func:`provenance` turns a source into the label hosts show (``llmnas_source``).
    """

    config: Config
    source: Source | str
    reason: str = ""
    rationale: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.source, Source):
            try:
                object.__setattr__(self, "source", Source(self.source))
            except ValueError:  # a custom method's operator: shown as operator:<name>
                pass


LLM_SOURCES = frozenset({Source.LLM.value, Source.LLM_REASK.value})
"""The labels of the LLM's own answers: a method's LLM arm under the trust rule
(:mod:`llmnas.trust`) unless the method names more (LAPT adds its evolution inside the LLM's
principles)."""

RATIONALE_CHARS = 300
"""The longest rationale a proposal carries (hosts show it as ``llmnas_rationale``)."""

SOURCE_LABELS = {
    "llm": "the LLM's answer",
    "llm-reask": "the LLM's answer to the re-ask (its first answer was invalid or a duplicate)",
    "operator:<name>": "the method's own operator, by name (LAPT's evolution, GPT-EA's ga, init, prior)",
    "screen": "the surrogate screen picked this operator candidate over the LLM's proposals",
    "fallback": "the method's operator (or the host) stood in for the LLM; the reason is given with it",
    "stand-in": "under the trust rule, the method's operator stood in for an LLM answer in the LLM's slots; the reason is given with it",
    "fixed": "the parameters were fixed by the user (enqueued trial)",
    "random": "sampled at random: the study knew no search space yet (a define-by-run study's first trials)",
    "exhausted": "every configuration was tried: a re-evaluation",
    "none": "the trial suggested no parameter: nothing to propose",
    "restored": "NNI: a model read back from the experiment's database on resume",
    "resubmitted": "NNI: a model submitted again after a resume (it never ran)",
}
"""The documented vocabulary of provenance labels (Optuna's ``llmnas_source`` user attribute,
NNI's ``provenance()``)."""

SCREEN_REASON = "the surrogate screen preferred the operator's candidate"
"""The fallback reason of a candidate the surrogate screen chose (its provenance is the screen)."""
OPERATOR_TURN_REASON = "the trust rule gave this slot to the method's operator"
"""The fallback reason of a proposal the method's operator made in a slot the trust rule
(:mod:`llmnas.trust`) gave it instead of the LLM."""
_HOST_LABELS = {"fixed", "random", "exhausted", "none", "restored", "resubmitted"}


def provenance(source: str, reason: str = "") -> tuple[str, str]:
    """The label of :data:`SOURCE_LABELS` for a proposal's ``source`` and, for a fallback,
    its reason (else ``""``).

    >>> provenance("llm"), provenance("evolution"), provenance("fallback", "LLM call failed")
    (('llm', ''), ('operator:evolution', ''), ('fallback', 'LLM call failed'))
    """
    source = str(source)  # plain strings out, whatever came in
    if source in LLM_SOURCES:
        return source, ""
    if source == "fallback" and reason == SCREEN_REASON:
        return "screen", ""
    if source == "fallback":
        return "fallback", reason or "unknown"
    if source == "stand-in":
        return source, reason or "unknown"
    if source == "host-fallback":
        return "fallback", f"the host picked it ({reason})" if reason else "the host picked it"
    if source in _HOST_LABELS:
        return source, reason
    return f"operator:{source}", ""


def short_rationale(text: Any) -> str:
    """``text`` (a string, or a mapping/list of strings) as one line of at most
    :data:`RATIONALE_CHARS` characters."""
    if isinstance(text, Mapping):
        text = "; ".join(f"{k}: {v}" for k, v in text.items() if isinstance(v, (str, int, float)))
    elif isinstance(text, (list, tuple)):
        text = "; ".join(str(t) for t in text)
    text = " ".join(str(text or "").split())
    return text if len(text) <= RATIONALE_CHARS else text[: RATIONALE_CHARS - 1] + "…"
