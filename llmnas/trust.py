"""Trust between sources: how much of the search the LLM's answers get, earned in this study.

Every proposal carries its :class:`~llmnas.provenance.Source`, and the hosts store it with the
trial (Optuna: the ``llmnas_source`` user attribute; NNI: the model's provenance), so a
:class:`~llmnas.history.History` knows which source each evaluated architecture came from.
:class:`SourceTrust` turns that into a decision for each batch the method proposes: how many of
its slots go to the LLM's answers and how many to the method's own operator (its mutation,
crossover or sampling with the LLM off, exactly what ``use_llm=False`` runs), and whether to call
the LLM at all.

**The rule: Thompson sampling over two arms** (Thompson 1933; for Bernoulli rewards its expected
regret is logarithmic in the number of pulls and matches the Lai-Robbins lower bound: Agrawal &
Goyal 2012, Kaufmann et al. 2012). Arm one is the LLM's answers (sources ``llm`` and
``llm-reask``), arm two the method's own proposals (operator, fallbacks, the screen's picks, the
method's evolution); what the method made in the LLM's slots in place of an answer (stand-ins,
:data:`STAND_INS`) is neither's. A trial's *reward* is its quantile among the study's usable trials so far,
in quarters (:data:`QUANTILES`): 1 in the top quarter, 2/3 in the second, 1/3 in the third,
0 in the bottom one; each LLM call of a batch that brought no usable answer (nonsense,
timeouts, only architectures already tried) is one more trial of reward 0 (counted in the
study's knowledge, :data:`EMPTY_CALLS_KEY`, so every worker counts every worker's). Each
arm's posterior is ``Beta(1 + wins, 1 + losses)``, its rewards' sum and their complements' as fractional counts: the expectation of Agrawal & Goyal's
Bernoulli trick (a reward ``r`` in [0, 1] taken as a win with probability ``r``), which carries
the bound to rewards in [0, 1]; the expectation, not a coin per trial, so that every worker
decides alike. Graded rewards tell a source that writes the study's worst trials from one that
writes middling ones: a top-quarter win alone counts both as losses, and a useless LLM then
keeps a wide posterior for longer (on NAS-Bench-201 with a misleading fake LLM, over 48 seeds
and three tables, the graded reward halves its calls: 0.018 per evaluation instead of 0.037).
One pair of draws decides whether the LLM is called for the batch, and one pair per further
slot decides its share of the slots. Why this rule:

- it needs no tuning constant beyond the reward's cuts, and is the same in both hosts;
- a source that keeps losing gets fewer slots *and fewer calls* (a useless LLM also costs less
  wall time), a source that keeps winning gets more, and a losing source is never starved: its
  posterior always leaves it a chance, so an LLM that improves (or a study that moves to where
  the LLM is right) wins its slots back;
- it reads the trials, through the History's maintained ranking and per-source counts, and
  the study's count of empty calls, and its draws are seeded by ``(seed, number of trials)``:
  workers that see the same study decide alike, and a restarted study decides from what it
  stored.

Two turns come before any comparison, as the arms must each be pulled once: the LLM's first
batch (what the papers do), then the operator's first batch, which starts as the method would
with the LLM off (from an empty history, the LLM's architectures kept out as taken) so a
misleading first answer cannot steer it. When every slot of a batch goes to the LLM the batch is
made larger (:data:`TRUSTED_BATCH_FACTOR`, for methods whose calls come per batch): a trusted LLM
writes more per call, which keeps calls per evaluation low. Otherwise the operator makes its
whole batch and the LLM's slots come on top (:attr:`Turn.operator_slots`), and the operator
proposes from its own view of the study and its own random stream (:mod:`llmnas.operator_view`):
the LLM's architectures teach it only once the rule has evidence that they are the better
source (:attr:`Turn.llm_proven`), so an LLM no better than the operator leaves the operator's
search as ``use_llm=False`` runs it, and costs only the evaluations it was given.

The same evidence sets how many it is given. Until the LLM is proven the better source, a
batch that calls it gives it at most :data:`UNPROVEN_SLOTS` slot, however many of Thompson's
draws it won: the first draw still decides whether it is called (so it is explored as often as
its posterior says), but an LLM that is no better than the operator, and merely ahead on a lucky
start, explores one answer per batch instead of a share of every batch. An expert is proven
after its first batch and the operator's (on NAS-Bench-201, 5 top answers against 5 of the
operator's), so this costs it nothing; an uninformed LLM, whose early luck used to buy it 36
to 90 of 100 evaluations on some seeds, now costs about its first batch and a few probes.

Calls are budgeted too: a batch whose calls would take the study's LLM calls past
:data:`MAX_CALLS_PER_PROPOSAL` of its trials is the operator's (:meth:`SourceTrust.allocate`
with ``calls=``, expecting the most calls one batch has made, and counting at least
:data:`CALLS_BUDGET_FLOOR` trials), so whatever its quality an LLM costs a method about a
quarter call per evaluation at most (measured: at most 0.24 over 1,296 runs of the fake LLMs).
The study's calls are counted in its knowledge (:data:`CALLS_KEY`), so workers that share a
study, and a restarted one, spend one budget.

Example:
    >>> from llmnas import History, Observation
    >>> history = History()
    >>> for i in range(40):  # the LLM's answers rank last, the operator's first
    ...     history.add(Observation({"x": i}, (float(i),), source="fallback" if i >= 20 else "llm"))
    >>> trust = SourceTrust()
    >>> llm, own = trust.arms(history)
    >>> str(llm), str(own)  # reward sums over evaluated trials
    ('3.3/20', '16.7/20')
    >>> turn = trust.allocate(history, seed=0, n=8)
    >>> turn.llm_slots <= 2, turn.n
    (True, 8)
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .history import History
from .knowledge import TRUST_PREFIX, KnowledgeStore
from .provenance import LLM_SOURCES, Source

logger = logging.getLogger(__name__)

__all__ = ["CALLS_BUDGET_FLOOR", "CALLS_KEY", "EMPTY_CALLS_KEY", "HOST_SOURCES", "LLM_SOURCES", "MAX_CALLS_PER_PROPOSAL", "PROOF_Z", "QUANTILES", "STAND_INS", "STARTED_KEY", "TOP_FRACTION",
           "TRUSTED_BATCH_FACTOR", "UNPROVEN_SLOTS", "Arm", "SourceTrust", "Turn"]

QUANTILES = (0.25, 0.5, 0.75)
"""The cuts of a trial's reward: the share of these top fractions of the study's usable trials
it ranks in (quarters: a source as good as the study's average earns about 1/2 a trial)."""

TOP_FRACTION = QUANTILES[0]
"""The summary's per-source count of trials "in the top": the best reward's cut."""

TRUSTED_BATCH_FACTOR = 3

"""When the LLM gets every slot of a batch, the batch is this many times larger (one call)."""

UNPROVEN_SLOTS = 1
"""The most slots of a batch the LLM gets until its record is proven the better one
(:attr:`Turn.llm_proven`): Thompson's first draw decides whether it is called, and an LLM the
study cannot yet tell from the operator explores one answer per batch rather than a share of it
(an uninformed LLM's lucky start no longer buys it tens of evaluations)."""

PROOF_Z = 2.0
"""How many standard deviations the LLM's posterior mean must lead the operator's for the LLM
to be proven the better source (:attr:`Turn.llm_proven`): more than one slot per batch, and the
operator learning from its architectures. Above a single test's 1.645 (one-sided 95 %) because
the proof is tested again at every batch (about 15 looks in 100 evaluations), and an LLM no
better than the operator that is proven once, by a lucky start, takes a share of the batches and
changes the operator's search. At the first look (its 5 answers against the operator's 5) the
bar is met only by answers that are the study's 5 best, 1 chance in 252 for an LLM no better
than the operator, where 1.645 passed 7 in 252 (also the 3 best with one of the 4th and 5th
and one of the 6th to 8th). Measured with the fake LLMs of :mod:`llmnas.app.quality` (16 seeds,
nine tables, four methods): an uninformed LLM was proven at some batch in 21 of 432 studies of
SEKI, CoLLM-NAS and GPT-EA at 1.645 and in 6 at 2.0; an expert in all 432 at both, 408 of them
at the first look (416 at 1.645)."""

MAX_CALLS_PER_PROPOSAL = 0.25
"""The most LLM calls per evaluation the rule lets a method make (:meth:`SourceTrust.allocate`
with ``calls=``): a batch that would take the study's calls
past this share of its trials is the operator's, whatever the draws said, unless the LLM has
not been called yet (its first batch, as the papers begin). The draws keep calls well below it
for an LLM that wins (a trusted LLM writes a batch three times larger per call) or loses (it is
called less); an LLM about as good as the operator, which the draws call at most batches for
one answer each, reached 0.28 to 0.30 calls per evaluation on some seeds with CoLLM-NAS (two
calls a batch, the Navigator's and the Generator's), and an expert whose pool was all tried
0.26. Counted for the study: its calls (:data:`CALLS_KEY`, every worker's) against its trials
and the proposals waiting for one (at least :data:`CALLS_BUDGET_FLOOR`), so workers that share
a study, and a restarted one, spend one budget (counted per process, four workers of one study
each kept their own share and the study's reached 0.28: CoLLM-NAS with an expert; now at most
0.25 over 20 runs). A batch's expected calls are counted for the study when it is decided, so
workers deciding while it is made count them too, and what it did not use comes off the
process's next reservations. A batch that makes more calls than any before it may overshoot by its
excess, and so may workers deciding at the same instant."""

CALLS_BUDGET_FLOOR = 20
"""The fewest trials the calls budget counts: a study's first 20 trials may take 5 calls,
so the LLM's first batch (whose answers may need a re-ask: 2 or 3 calls) does not cost it the
next batch that calls it (an expert was refused its second batch on some seeds and reached the
top 0.1 % 5 evaluations later), while the budget still holds from 20 proposals on."""

EMPTY_CALLS_KEY = TRUST_PREFIX + "empty_calls"
"""Knowledge entries ``trust/empty_calls/<k>``, one per LLM call that brought no usable answer,
numbered 1, 2, …: the study's count is the largest ``k`` (shared by every worker of a shared
knowledge store, e.g. an Optuna study's storage, and kept across restarts)."""

CALLS_KEY = TRUST_PREFIX + "calls"
"""Knowledge entries ``trust/calls/<k>``, ``k`` the study's LLM calls after each addition to it:
a batch's expected calls when it is decided (:meth:`SourceTrust.allocate`), the calls beyond them
once made (:meth:`SourceTrust.count_calls`). The calls budget's count, every worker's and kept
across restarts (the largest ``k``)."""

STARTED_KEY = TRUST_PREFIX + "started"
"""Knowledge entry written once the LLM's part of a batch has proposed (or failed): from then on
the LLM's first batch is over for every worker of the study."""

HOST_SOURCES = frozenset({
    "", Source.FIXED.value, Source.RANDOM.value, Source.EXHAUSTED.value, Source.NONE.value,
    Source.RESTORED.value, Source.RESUBMITTED.value,
})
"""Trials the host or the user picked (or of unknown origin): neither arm's. Every other label
(``fallback``, ``screen``, ``operator:<name>``, ...) but :data:`STAND_INS` is the method's own arm."""

STAND_INS = frozenset({Source.STAND_IN.value})
"""What the method made in the LLM's slots that is not the LLM's answer (an invalid, repeated or
missing answer filled by its operator, :attr:`~llmnas.provenance.Source.STAND_IN`): neither
arm's (the LLM's empty calls already count against it, and the operator did not choose these),
and kept out of the operator's view like the LLM's architectures, so a failing LLM's turns leave
the operator's search as ``use_llm=False`` runs it."""


@dataclass(frozen=True)
class Arm:
    """One source's record in the study: the sum of its trials' rewards (``wins``, see
    :data:`QUANTILES`) and of their complements (``losses``)."""

    wins: float
    losses: float

    def __str__(self) -> str:  # "reward sum/evaluated", as the log and the summary line show it
        return f"{self.wins:.1f}/{self.pulls}".replace(".0/", "/")

    @property
    def pulls(self) -> int:
        """Evaluated trials (and empty calls) of the source."""
        return int(round(self.wins + self.losses))


@dataclass(frozen=True)
class Turn:
    """The decision for one batch: ``llm_slots`` of its ``n`` slots go to the LLM's answers
    (none: the LLM is not called), the rest to the method's own operator (whose whole batch
    it is when shared, :attr:`operator_slots`); ``fresh`` marks the operator's first batch (it
    starts as it would without the LLM); ``reason`` is for the log."""

    n: int
    llm_slots: int
    llm: Arm
    own: Arm
    reason: str
    fresh: bool = False

    @property
    def calls_llm(self) -> bool:
        return self.llm_slots > 0

    @property
    def llm_proven(self) -> bool:
        """Whether the LLM's record beats the operator's with confidence: the difference of
        the two Beta posteriors' means is at least :data:`PROOF_Z` standard deviations (a normal
        approximation; the bar allows for the test being repeated at every batch). Only then does the operator learn from the LLM's
        architectures (:mod:`llmnas.operator_view`): an LLM no better than the operator, or
        one the study cannot tell from it yet, leaves the operator's search as without it."""
        return _beats(self.llm, self.own, PROOF_Z)

    @property
    def operator_slots(self) -> int:
        """The operator's proposals in the batch: none when the LLM has every slot, else its
        whole batch of ``n``, the LLM's slots coming on top (the operator then makes the very
        batches it makes without the LLM, see :mod:`llmnas.operator_view`)."""
        return 0 if self.llm_slots >= self.n else self.n

    @property
    def llm_trusted(self) -> bool:
        """Whether the surrogate screen lets the LLM's answers through (and screens only the
        operator's proposals): while the LLM has no record yet (its first batch is evaluated,
        as each arm must be pulled once), then while its record is the better one (posterior
        means)."""
        return self.llm.pulls == 0 or _leads(self.llm, self.own)


class SourceTrust:
    """The allocation rule between the LLM's answers and the method's operator (see the module
    docstring: Thompson sampling, each source's wins counted from the study's own trials).

    Args:
        quantiles: the cuts of a trial's reward, fractions of the study's usable trials
            (:data:`QUANTILES`).
        trusted_batch_factor: how much larger a batch that is all the LLM's gets.
        llm_sources: the labels of the LLM's arm (the method's
            :attr:`~llmnas.methods.base.Method.llm_arm_sources`).
        unproven_slots: the most slots of a batch the LLM gets until proven the better source
            (:data:`UNPROVEN_SLOTS`).
        max_calls_per_proposal: the LLM's calls budget, calls per trial of the study, when
            :meth:`allocate` is told the calls (:data:`MAX_CALLS_PER_PROPOSAL`).

    Example:
        >>> SourceTrust().allocate(History(), seed=0, n=5).reason
        "the LLM's first batch"
    """

    def __init__(self, quantiles: Sequence[float] = QUANTILES, trusted_batch_factor: int = TRUSTED_BATCH_FACTOR,
                 llm_sources: frozenset[str] = LLM_SOURCES, unproven_slots: int = UNPROVEN_SLOTS,
                 max_calls_per_proposal: float = MAX_CALLS_PER_PROPOSAL) -> None:
        cuts = tuple(quantiles) if isinstance(quantiles, (list, tuple)) else ()
        if not cuts or any(isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1 for q in cuts):
            raise ValueError(f"quantiles must be a non-empty list of fractions in (0, 1), got {quantiles!r}.")
        if int(trusted_batch_factor) < 1:
            raise ValueError(f"trusted_batch_factor must be an integer >= 1, got {trusted_batch_factor!r}.")
        self.quantiles = tuple(sorted(float(q) for q in cuts))
        if isinstance(unproven_slots, bool) or not isinstance(unproven_slots, int) or unproven_slots < 1:
            raise ValueError(f"unproven_slots must be an integer >= 1, got {unproven_slots!r}.")
        if (isinstance(max_calls_per_proposal, bool) or not isinstance(max_calls_per_proposal, (int, float))
                or not 0 < max_calls_per_proposal < math.inf):
            raise ValueError(f"max_calls_per_proposal must be a finite number > 0, got {max_calls_per_proposal!r}.")
        self.trusted_batch_factor = int(trusted_batch_factor)
        self.unproven_slots = unproven_slots
        self.max_calls_per_proposal = float(max_calls_per_proposal)
        self.batch_calls = 1
        """The most LLM calls one batch's LLM part made in this process (:meth:`count_calls`):
        what the calls budget expects the next one to make."""
        self.study_calls = 0
        """The study's LLM calls as last counted (:data:`CALLS_KEY`: every worker's, with the
        calls reserved for batches being made; raised to the store's when :meth:`allocate`
        reads one)."""
        self.own_calls = 0
        """What this process added to :attr:`study_calls`: the calls reserved for its batches
        when they were decided, and any excess counted when they were made."""
        self._reserved = 0
        self.reserved_unused = 0
        """Calls this process reserved for batches that made fewer (a reservation cannot be
        taken back from a first-writer-wins store): its next reservations are that much smaller,
        so the study's count stays the calls made, give or take one batch per process."""
        self.calls_refused = 0
        """Batches the draws gave the LLM that the calls budget gave the operator instead."""
        self.llm_sources = frozenset(str(s) for s in llm_sources)
        self.empty_calls = 0
        """LLM calls whose batch brought no usable answer: each is a loss. This process's count,
        raised to the study's (:data:`EMPTY_CALLS_KEY`) when :meth:`allocate` reads a knowledge
        store."""
        self.started = False
        """Whether the LLM's part of a batch has made an LLM-arm proposal (or failed) in this
        process or, read from a knowledge store (:data:`STARTED_KEY`), in the study: until then
        the LLM keeps the batches."""
        self.turns = {"llm": 0, "own": 0, "shared": 0}
        """Batches given wholly to the LLM, wholly to the operator, and shared."""
        self.last: Turn | None = None
        self.sources: dict[str, dict[str, int]] = {}
        """Per provenance label, at the last decision: trials, evaluated, in the top quarter
        (:data:`TOP_FRACTION`), and how often one became the best so far."""

    def arms(self, history: History) -> tuple[Arm, Arm]:
        """The LLM's arm and the method's own arm, from ``history`` (its maintained ranking and
        per-source counts: O(quantiles × sources × log n)); the empty calls of this process are
        LLM trials of reward 0."""
        stats = history.source_stats()
        usable = {"llm": 0, "own": 0}
        for source, s in stats.items():
            arm = self.arm_of(source)
            if arm is not None:
                usable[arm] += s.usable
        wins = {"llm": 0.0, "own": 0.0}
        top: dict[str, int] = {}
        if not history.multi_objective and history.n_usable:
            cuts = {q: history.top_by_source(math.ceil(q * history.n_usable)) for q in {*self.quantiles, TOP_FRACTION}}
            top = cuts[TOP_FRACTION]
            for q in self.quantiles:
                for source, count in cuts[q].items():
                    arm = self.arm_of(source)
                    if arm is not None:
                        wins[arm] += count / len(self.quantiles)
        self.sources = {source or "unknown": {"trials": s.trials, "evaluated": s.usable, "in_top": top.get(source, 0),
                                              "improved_best": s.improvements}
                        for source, s in sorted(stats.items())}
        return (Arm(wins["llm"], usable["llm"] - wins["llm"] + self.empty_calls),
                Arm(wins["own"], usable["own"] - wins["own"]))

    def allocate(self, history: History, *, seed: int | None, n: int, knowledge: KnowledgeStore | None = None,
                 calls: tuple[int, int] | None = None, limit: int | None = None) -> Turn:
        """The turn of the next batch of ``n`` slots: the LLM's first batch (as the papers
        begin), the operator's first, then Thompson draws seeded by ``(seed, len(history))``.
        With the study's ``knowledge``, the empty calls, the calls and the LLM's start are the
        study's (every worker's, before a restart too), not only this process's. With ``calls``,
        ``(this process's LLM calls, the study's trials and the proposals waiting for one)``, a
        turn that would take the study's calls (this process's and the other workers' counted in
        ``knowledge``, :data:`CALLS_KEY`) past :attr:`max_calls_per_proposal` of the trials (at
        least :data:`CALLS_BUDGET_FLOOR`) is the operator's; a turn that calls the LLM reserves
        its expected calls in the study's count at once. ``limit`` caps a batch enlarged for a trusted LLM (what is left of the
        study's budget; never below ``n``), before the calls are checked against it."""
        if knowledge is not None:
            self.read(knowledge)
        llm, own = self.arms(history)
        if llm.pulls == 0 and not self.started:
            turn = Turn(n, n, llm, own, "the LLM's first batch")
        elif own.pulls == 0:
            turn = Turn(n, 0, llm, own, "the operator's first batch", fresh=True)
        else:
            rng = np.random.default_rng([0 if seed is None else int(seed), len(history), 7919])
            theta_llm = rng.beta(1 + llm.wins, 1 + llm.losses, size=n)
            theta_own = rng.beta(1 + own.wins, 1 + own.losses, size=n)
            wins = theta_llm >= theta_own
            slots = int(wins.sum()) if wins[0] else 0  # the first pair decides whether to call at all
            if slots > self.unproven_slots and not _beats(llm, own, PROOF_Z):  # explores until proven better
                slots = self.unproven_slots
            if slots == n:
                larger = n * self.trusted_batch_factor
                if limit is not None:
                    larger = min(larger, max(n, int(limit)))
                turn = Turn(larger, larger, llm, own, "every slot to the LLM")
            else:
                turn = Turn(n, slots, llm, own, "Thompson draws")
        # this process's calls and the other workers' (made, or reserved for their batches)
        spent = 0 if calls is None else int(calls[0]) + max(0, self.study_calls - self.own_calls)
        if turn.calls_llm and calls is not None and spent > 0 and (
                spent + self.batch_calls
                > self.max_calls_per_proposal * max(calls[1] + turn.n, CALLS_BUDGET_FLOOR) + 1e-9):
            turn = Turn(n, 0, llm, own, f"the LLM's calls are at their budget ({self.max_calls_per_proposal:g} per evaluation)")
            self.calls_refused += 1
        if turn.calls_llm and calls is not None:  # reserved now, so workers deciding meanwhile count them
            self.reserved_unused += self._reserved  # a batch never counted (it raised) made none
            self._reserved = self.batch_calls
            unused = min(self.reserved_unused, self._reserved)
            self.reserved_unused -= unused
            if self._reserved > unused:
                self._add_calls(self._reserved - unused, knowledge)
        self.turns["llm" if turn.llm_slots == turn.n else "own" if turn.llm_slots == 0 else "shared"] += 1
        self.last = turn
        return turn

    def read(self, knowledge: KnowledgeStore) -> None:
        """Raise this process's record to the study's: its empty calls and whether the LLM began.
        A store that cannot be read leaves this process's record as it is (logged)."""
        try:
            latest = knowledge.latest(EMPTY_CALLS_KEY)
            calls = knowledge.latest(CALLS_KEY)
            started = self.started or latest is not None or knowledge.get(STARTED_KEY) is not None
        except Exception as exc:  # the trial must not be lost to the store: decide from what this process knows
            logger.warning("trust: cannot read the study's record (%s: %s); using this process's", type(exc).__name__, exc)
            return
        if latest is not None and latest[0] > self.empty_calls:
            self.empty_calls = latest[0]
        if calls is not None and calls[0] > self.study_calls:
            self.study_calls = calls[0]
        self.started = started

    def begin(self, knowledge: KnowledgeStore | None = None) -> None:
        """The LLM's part of a batch has proposed or failed: its first batch is over (for the
        study, when given its knowledge; a store that cannot be written is logged)."""
        if not self.started and knowledge is not None:
            try:
                knowledge.put(STARTED_KEY, True)
            except Exception as exc:  # the LLM's answers must not be lost to the store
                logger.warning("trust: cannot write to the study's record (%s: %s)", type(exc).__name__, exc)
        self.started = True

    def count_empty_call(self, knowledge: KnowledgeStore | None = None, calls: int = 1) -> None:
        """``calls`` more LLM calls that brought no usable answer (a batch's, e.g. CoLLM-NAS's
        Navigator and Generator): a loss for the LLM each, so an LLM that answers nothing new
        loses its turns as fast as it spends calls. Written to the study's ``knowledge`` as
        ``trust/empty_calls/<k>``, ``k`` the study's count with them (first writer wins: a worker
        that loses a race for ``k`` counts from the new latest), so every worker counts them.
        Stores without compare-and-set (Optuna's) may let two batches written at the same instant
        overlap: the study then counts fewer losses, never more."""
        self.begin(knowledge)
        calls = max(1, int(calls))
        self.empty_calls += calls
        counted = _add_to_count(knowledge, EMPTY_CALLS_KEY, calls, "an empty call")
        if counted is not None:
            self.empty_calls = max(self.empty_calls, counted)

    def count_calls(self, calls: int, knowledge: KnowledgeStore | None = None) -> None:
        """A batch's LLM part made ``calls`` calls: the calls budget expects as many of the
        next (:attr:`batch_calls`), and counts those beyond what :meth:`allocate` reserved for
        the batch in the study's ``knowledge`` (:data:`CALLS_KEY`; a store that cannot be
        written is logged, and they count in this process only)."""
        calls = int(calls)
        self.batch_calls = max(self.batch_calls, calls)
        excess, self._reserved = calls - self._reserved, 0
        if excess > 0:
            self._add_calls(excess, knowledge)
        else:
            self.reserved_unused -= excess

    def _add_calls(self, calls: int, knowledge: KnowledgeStore | None) -> None:
        """Add this process's ``calls`` to the study's count (:data:`CALLS_KEY`)."""
        self.own_calls += calls
        self.study_calls += calls
        counted = _add_to_count(knowledge, CALLS_KEY, calls, "the LLM's calls")
        if counted is not None:
            self.study_calls = max(self.study_calls, counted)

    def state_dict(self) -> dict[str, Any]:
        """What this process knows beyond the trials (their provenance is in the study): the
        calls that brought nothing, whether the LLM has begun, the batches given, the most
        calls a batch made, and the calls budget's count (the study's calls as last read, this
        process's share of them, its reserved calls left unused)."""
        return {"empty_calls": self.empty_calls, "started": self.started, "batches": dict(self.turns),
                "batch_calls": self.batch_calls, "calls_refused": self.calls_refused,
                "study_calls": self.study_calls, "own_calls": self.own_calls, "reserved_unused": self.reserved_unused}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (a restarted worker goes on where this one stopped)."""
        self.empty_calls = int(state.get("empty_calls", 0))
        self.started = bool(state.get("started", False))
        self.batch_calls = max(1, int(state.get("batch_calls", 1)))
        self.calls_refused = int(state.get("calls_refused", 0))
        self.study_calls = int(state.get("study_calls", 0))
        self.own_calls = int(state.get("own_calls", 0))
        self.reserved_unused = int(state.get("reserved_unused", 0))
        self.turns.update({k: int(v) for k, v in dict(state.get("batches", {})).items() if k in self.turns})

    def arm_of(self, source: str) -> str | None:
        """``"llm"``, ``"own"`` or ``None`` (the host's) for a provenance label or source."""
        source = str(source)
        if source in self.llm_sources:
            return "llm"
        return None if source in HOST_SOURCES or source in STAND_INS else "own"

    def describe(self, history: History | None = None) -> str:
        """One line for the summary: each arm's record and how the batches were shared."""
        turn = self.last
        if turn is None:
            return "trust: no batch decided"
        llm, own = self.arms(history) if history is not None else (turn.llm, turn.own)
        refused = f" ({self.calls_refused} of them by the calls budget)" if self.calls_refused else ""
        return (f"trust (reward: quantile in the study): LLM {llm}, operator {own}; batches: "
                f"{self.turns['llm']} to the LLM, {self.turns['shared']} shared, {self.turns['own']} to the operator"
                f"{refused}")

    def summary(self) -> dict[str, object]:
        """The rule's state for :meth:`Searcher.summary`."""
        turn = self.last
        return {
            "rule": "thompson", "quantiles": list(self.quantiles), "batches": dict(self.turns), "empty_calls": self.empty_calls,
            "calls_budget": {"max_calls_per_proposal": self.max_calls_per_proposal, "refused": self.calls_refused,
                             "study_calls": self.study_calls},
            "sources": {label: dict(counts) for label, counts in self.sources.items()},
            **({"llm": {"wins": round(turn.llm.wins, 3), "losses": round(turn.llm.losses, 3)},
                "operator": {"wins": round(turn.own.wins, 3), "losses": round(turn.own.losses, 3)},
                "llm_mean": round(_mean(turn.llm), 3), "operator_mean": round(_mean(turn.own), 3)} if turn else {}),
        }


def _add_to_count(knowledge: KnowledgeStore | None, prefix: str, amount: int, what: str) -> int | None:
    """Add ``amount`` to the study's count kept as knowledge entries ``<prefix>/<k>`` (the count
    is the largest ``k``; first writer wins, so a worker that loses a race for ``k`` counts
    from the new latest). Returns the count with ``amount``, or ``None`` when there is no store
    or it cannot be written (logged: the amount then counts in this process only). Stores
    without compare-and-set (Optuna's) may let two batches written at the same instant overlap:
    the study then counts less, never more."""
    if knowledge is None:
        return None
    try:
        for _ in range(16):  # a race lost to another worker moves to the next number
            latest = knowledge.latest(prefix)
            k = (latest[0] if latest is not None else 0) + amount
            token = uuid.uuid4().hex
            if knowledge.put(f"{prefix}/{k}", token) == token:
                return k
        logger.warning("trust: 16 races lost writing %s; it counts in this process only", what)
    except Exception as exc:  # the batch must not be lost to the store
        logger.warning("trust: cannot write to the study's record (%s: %s); %s counts in this process only",
                       type(exc).__name__, exc, what)
    return None


def _mean(arm: Arm) -> float:
    """The mean of the arm's ``Beta(1 + wins, 1 + losses)`` posterior."""
    return (1 + arm.wins) / (2 + arm.pulls)


def _leads(a: Arm, b: Arm) -> bool:
    """Whether arm ``a``'s record is the better one (posterior means)."""
    return _mean(a) > _mean(b)


def _beats(a: Arm, b: Arm, z: float) -> bool:
    """Whether arm ``a``'s ``Beta(1 + wins, 1 + losses)`` posterior mean leads ``b``'s by at
    least ``z`` standard deviations of the difference (normal approximation)."""
    def moments(arm: Arm) -> tuple[float, float]:
        alpha, beta = 1 + arm.wins, 1 + arm.losses
        total = alpha + beta
        return alpha / total, alpha * beta / (total * total * (total + 1))

    (ma, va), (mb, vb) = moments(a), moments(b)
    return a.pulls > 0 and b.pulls > 0 and ma - mb >= z * math.sqrt(va + vb)
