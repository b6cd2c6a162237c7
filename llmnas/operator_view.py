"""What the method's own operator sees of the study when the trust rule shares its batches.

With the trust rule (:mod:`llmnas.trust`) the LLM's answers and the method's operator take
turns in one study. The rule already limits how many evaluations a losing LLM gets; this module
limits what its answers *teach the operator*. :class:`OperatorView` is the study without the
LLM's architectures that have not earned a place: an LLM trial joins the view once it would
rank in the top quarter (:data:`ADMIT_FRACTION`) of the view's usable trials, and then stays.
Every other trial (the operator's, the host's, the user's) is in the view as it arrives.

Why: an operator that breeds from, or keeps statistics of, the LLM's worst answers spends its
own evaluations around them. Kept out, a misleading LLM's trials change nothing the operator
does, and together with the operator's own random stream (the searcher gives it one, seeded as
with ``use_llm=False``) the operator then runs as the method's ``use_llm=False`` ablation would
(common random numbers): a bad LLM costs its evaluated slots, not a different search. An
expert's trials rank in the top quarter and join at once, so the operator builds on them.

The rule reads only the trials in their order, so every worker and a restarted one agree on
the view of the same history. The LLM's failed trials stay out; their configurations stay
taken through the study's keys (the searcher's context), so they are never proposed again.
Costs: one :meth:`History.add <llmnas.history.History.add>` per trial that joins (a binary
search and a list insertion), and one O(log n) check of the best waiting LLM trial each time the
view grows; the view is built again (O(n)) only when the evidence for the LLM changes or the
host hands over a rebuilt history.

Example:
    >>> from llmnas.history import History, Observation
    >>> history = History()
    >>> for i in range(8):  # the operator's trials score 10..17
    ...     history.add(Observation({"x": i}, (10.0 + i,), source="fallback"))
    >>> history.add(Observation({"x": 100}, (0.0,), source="llm"))   # a bad answer: kept out
    >>> history.add(Observation({"x": 101}, (99.0,), source="llm"))  # a good one: joins
    >>> view = OperatorView(frozenset({"llm"}))
    >>> [o.config["x"] for o in view.update(history)][-2:], len(view.waiting)
    ([7, 101], 1)
"""

from __future__ import annotations

import bisect
import math
from .history import History, Observation

__all__ = ["ADMIT_FRACTION", "OperatorView"]

ADMIT_FRACTION = 0.25
"""An LLM trial joins the operator's view once it would rank in this top fraction of the view's
usable trials (the trust rule's best reward cut, :data:`llmnas.trust.TOP_FRACTION`)."""


class OperatorView:
    """The study as the method's operator sees it under the trust rule (see the module
    docstring): every trial but the LLM's answers that have not ranked in the top quarter of
    what the view holds.

    Args:
        llm_sources: the source labels of the LLM's arm (the trust rule's
            :attr:`~llmnas.trust.SourceTrust.llm_sources`).
        admit_fraction: the top fraction of the view an LLM trial must reach to join.

    Example:
        >>> from llmnas.history import History, Observation
        >>> history = History([Observation({"x": 0}, (1.0,), source="llm")])
        >>> len(OperatorView(frozenset({"llm"})).update(history))  # nothing to rank it against yet
        0
    """

    def __init__(self, llm_sources: frozenset[str], admit_fraction: float = ADMIT_FRACTION) -> None:
        if not 0 <= admit_fraction <= 1:
            raise ValueError(f"admit_fraction must be in [0, 1], got {admit_fraction!r}.")
        self.llm_sources = frozenset(str(s) for s in llm_sources)
        self.admit_fraction = float(admit_fraction)
        self.view: History | None = None
        self.waiting: list[Observation] = []
        """The LLM's usable trials not (yet) in the view, best first."""
        self._waiting_keys: list[tuple] = []
        self._seen = 0
        self._last: Observation | None = None
        self.include_llm = True

    def update(self, history: History, *, include_llm: bool = True) -> History:
        """The view of ``history``: extended with the trials added since the last call when
        ``history`` goes on from what was seen (the same observations, as a host's copies
        share) and ``include_llm`` is as then, else built again from its start. With
        ``include_llm`` off no LLM trial is in the view (the trust rule has no evidence that
        the LLM's answers are the better source, :attr:`~llmnas.trust.Turn.llm_proven`)."""
        view = self.view
        seen = self._seen
        if (view is None or view.directions != history.directions or len(history) < seen
                or (seen and history[seen - 1] is not self._last) or include_llm != self.include_llm):
            view = self.view = History(directions=history.directions, names=history.names)
            self.waiting, self._waiting_keys, seen = [], [], 0
            self.include_llm = include_llm
        for i in range(seen, len(history)):
            self._fold(view, history[i])
        self._seen = len(history)
        self._last = history[-1] if len(history) else None
        return view

    def _fold(self, view: History, obs: Observation) -> None:
        if str(obs.source) not in self.llm_sources:
            view.add(obs)
            while self.waiting and self._admits(view, self.waiting[0]):
                self._waiting_keys.pop(0)
                view.add(self.waiting.pop(0))
        elif self.include_llm and obs.usable and not view.multi_objective:
            if self._admits(view, obs):
                view.add(obs)
            else:
                key = _order(view, obs)
                at = bisect.bisect_right(self._waiting_keys, key)
                self._waiting_keys.insert(at, key)
                self.waiting.insert(at, obs)

    def _admits(self, view: History, obs: Observation) -> bool:
        """Whether ``obs`` would rank in the view's top fraction (none: nothing to rank against)."""
        n = view.n_usable
        return n > 0 and view.place_of(obs) < max(1, math.ceil(self.admit_fraction * (n + 1)))


def _order(view: History, obs: Observation) -> tuple:
    """A sort key of ``obs``, ascending best first: the ranking's, arrival left out."""
    return view.rank_key(obs, 0)[:3]
