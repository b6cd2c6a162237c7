"""``LLMSampler``: any core :class:`~llmnas.methods.base.Method` as an Optuna sampler.

How a trial is sampled (Optuna calls the sampler lazily, inside the objective):

1. ``infer_relative_search_space``: the study's known space, the union of the distributions
   its finished trials used (a define-by-run space grows; a name keeps its latest range).
2. ``sample_relative`` (at the trial's first ``suggest_*``, so under the heartbeat): one
   proposal from the method through a :class:`~llmnas.searcher.Searcher`. The searcher keeps
   a batch in process memory, so one LLM answer fills several trials; the threads of a
   process share it behind one lock. The proposal is then **claimed** in the trial's own
   system attribute (``llmnas:claim``) and **checked** against the other trials (running
   ones by their claims, finished ones by their parameters); on a clash the trial yields and
   takes the next proposal, so workers on one storage do not evaluate the same
   configuration twice.
3. ``sample_independent``: parameters the relative space did not cover (a parameter new to
   the study, a value outside a range that changed): the claimed value when it fits the
   distribution, else a random value from the sampler's seeded generator, counted.
4. ``after_trial`` (before Optuna stores the state): the finishing trial joins this process's
   view of the history; when every configuration of a finite space has been tried or is
   running, the study is stopped, as ``GridSampler`` does (``stop_when_exhausted``).

Conditional spaces: a trial that used only some parameters (``units_l2`` exists only when
``n_layers == 3``) is a duplicate of any proposal that agrees with it on those parameters,
so such proposals are refused too (the method is told why and asked again).

Bad input: a trial that suggests nothing runs as it is (one warning; nothing to propose). A
NaN value is a FAIL trial (Optuna's rule); ``inf`` stays COMPLETE in Optuna but the method
counts it as failed (one warning), so no prompt shows it as a score; failures are counted in
``summary()["sampler"]["trials_failed"]`` and their configurations are never proposed again.
Continuous, log and huge numeric ranges are searched by the method; a ``suggest_float`` with
an infinite bound, or a distribution other than Optuna's three, is an error naming the
parameter (at construction for ``search_space=``, else in the trial that suggests it).

Where the code lives: this module is Optuna's contract (the space, ``sample_*``,
``after_trial``, reseeding, pickling); :mod:`._proposing` proposes, claims and checks for clashes;
:mod:`._ledger` keeps what each study has tried, reading from storage only the trials new or
unfinished since the last call; :mod:`._reporting` writes provenance and the summary;
:mod:`._space` maps distributions to the core's space.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.trial import TrialState as OptunaTrialState

from llmnas.history import Observation
from llmnas.llm.protocol import trace_context
from llmnas.methods.base import Method
from llmnas.options import SearchOptions, SearchOptionsKwargs, check_keywords
from llmnas.searcher import Searcher
from llmnas.space import Config
from llmnas.studies import study_history

from ._ledger import CLAIM_KEY, StudyLedger, observation
from ._proposing import ProposingMixin, TrialKey, stop
from ._proposing import trial_key as _key
from ._reporting import COUNTERS, RATIONALE_ATTR, REASON_ATTR, SOURCE_ATTR, ReportingMixin
from ._space import to_dimension, to_search_space, value_problems

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

    from typing_extensions import Unpack

__all__ = ["CLAIM_KEY", "RATIONALE_ATTR", "REASON_ATTR", "SOURCE_ATTR", "LLMSampler", "study_history"]

logger = logging.getLogger(__name__)

UNCLAIMED_REDRAWS = 32


class SamplerKwargs(SearchOptionsKwargs, total=False):
    """:class:`LLMSampler`'s keywords: the shared options and the sampler's own (documented on
    :class:`LLMSampler`)."""

    log_every: int
    stop_when_exhausted: bool
    search_space: Mapping[str, BaseDistribution] | None
    constraints_func: Callable[[FrozenTrial], Sequence[float]] | None


SAMPLER_KEYWORDS = frozenset({"log_every", "stop_when_exhausted", "search_space", "constraints_func"})
"""The keywords :class:`LLMSampler` takes beyond the shared options."""


class LLMSampler(ReportingMixin, ProposingMixin, BaseSampler):
    """Drives any LLM-driven NAS method of ``llmnas`` as an Optuna sampler.

    Each trial gets one proposal of the method (SEKI, LAPT, ...): the method asks the LLM for
    a batch of architectures in one call, checks them with Optuna's own rules, drops
    duplicates and fills gaps with its own evolutionary operators; every fallback is counted
    in :meth:`summary`. Workers on one storage share what the LLM wrote (study system
    attributes) and never evaluate the same configuration twice (claim, then check). Works
    with define-by-run and conditional spaces, pruners (also ``HyperbandPruner``), failed
    trials, constraints (``trial.set_constraint``), several objectives, ``n_jobs > 1`` and
    ``JournalStorage``/RDB storages. A finite space that has been fully tried stops the
    study, as :class:`~optuna.samplers.GridSampler` does.

    The method-specific samplers (:class:`~optuna_llm_samplers.SEKISampler`, ...) are thin
    subclasses; use this class directly to run a method object of your own.

    Example:
        .. code-block:: python

            import optuna
            from llmnas.methods import SEKI
            from optuna_llm_samplers import LLMSampler

            def objective(trial):
                ops = [trial.suggest_categorical(f"op{i}", ["conv3x3", "conv1x1", "skip"])
                       for i in range(3)]
                return sum(op == "conv3x3" for op in ops)

            # use_llm=False: the method's own operators only (no LLM needed to try it).
            sampler = LLMSampler(SEKI(budget=20), seed=0, use_llm=False)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(objective, n_trials=20)
            best, fallback_rate = study.best_params, sampler.summary()["fallback_rate"]

    Args:
        method: the search method (an :class:`llmnas.methods.base.Method`).
        options: the shared options as one :class:`llmnas.SearchOptions`, or given as keywords
            (``llm``, ``seed``, ``budget``, ``use_llm``, ``screen``, ``prefetch``, the call limits
            and timeouts, ``role_llms``: each documented there, once). With ``n_jobs > 1`` Optuna
            reseeds samplers before every trial, so threaded runs are not reproducible; give each
            worker process its own ``seed`` (or ``None``). Optuna does not tell samplers
            ``n_trials``: pass the same number as ``budget`` (default: the method's own).
        log_every: log :meth:`summary` at INFO every this many finished trials (0: never; 10).
        stop_when_exhausted: stop the study once every configuration of a finite space has
            been tried (as ``GridSampler`` does; the default). ``False`` keeps going,
            re-evaluating random configurations (counted as ``exhausted_trials``): for noisy
            objectives, or when ``n_trials`` must be met exactly.
        search_space: the distributions, when known up front (e.g.
            ``to_distributions(NasBench201Table.space())``), so the first trial is proposed by the
            method too (and checked by its rules, e.g. a resource limit); else the space is
            learned from finished trials (define-by-run).
        constraints_func: as in Optuna's TPE, NSGA-II and GP samplers: called with each
            COMPLETE or PRUNED trial, returns a sequence of floats (each <= 0: feasible),
            stored in the trial's ``constraints`` exactly as Optuna does (so the trial is
            ranked like one that called ``trial.set_constraint``).
    """

    def __init__(
        self, method: Method, *, options: SearchOptions | None = None, **keywords: Unpack[SamplerKwargs]
    ) -> None:
        check_keywords(type(self).__name__, keywords, SAMPLER_KEYWORDS | set(SearchOptions.names()))
        shared, own = SearchOptions.pick(keywords)
        if options is not None and set(keywords) - SAMPLER_KEYWORDS:
            raise TypeError(f"{type(self).__name__}() takes options= or the options as keywords, not both.")
        options = options or shared
        log_every = own.get("log_every", 10)
        stop_when_exhausted = own.get("stop_when_exhausted", True)
        search_space = own.get("search_space")
        constraints_func = own.get("constraints_func")
        if constraints_func is not None and not callable(constraints_func):
            raise ValueError("constraints_func must be a function of a FrozenTrial returning a sequence of "
                             f"floats (<= 0: feasible) or None, got {constraints_func!r}.")
        if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 0:
            raise ValueError(f"log_every must be an integer >= 0 (0: never), got {log_every!r}.")
        if not isinstance(stop_when_exhausted, (bool, np.bool_)):
            raise ValueError(f"stop_when_exhausted must be True or False, got {stop_when_exhausted!r}.")
        self._searcher = Searcher(method, options=options)
        if search_space is not None and (not isinstance(search_space, Mapping) or not all(
                isinstance(d, BaseDistribution) for d in search_space.values())):
            raise ValueError(
                "search_space must map parameter names to optuna distributions (for a core SearchSpace "
                f"such as table.space(), pass optuna_llm_samplers.to_distributions(space)); got {search_space!r}.")
        self._search_space = dict(search_space or {})
        to_search_space(self._search_space)  # an unsupported distribution is a TypeError now, naming it
        self._budget, _ = self._searcher.plan_budget()  # Optuna does not tell samplers n_trials
        self._log_every = log_every
        self._stop_when_exhausted = bool(stop_when_exhausted)
        self._random_sampler = RandomSampler(seed=options.seed)
        self._constraints_func = constraints_func
        self._reseeded = False
        self._counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._reasons: dict[str, dict[str, int]] = {"independent": {}, "host": {}}
        self._warned: set[str] = set()  # warnings given once per sampler
        self._init_transient()

    def _init_transient(self) -> None:
        """Process-local state: locks, and this process's claims and finishing trials (keyed by
        storage, study and trial, so one sampler may serve several studies)."""
        self._propose_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._claims: dict[TrialKey, Config] = {}
        self._finishing: dict[TrialKey, Observation] = {}
        self._unclaimed: dict[TrialKey, RandomSampler] = {}
        self._own: set[TrialKey] = set()  # trials this sampler drew in this process
        self._ledgers: dict[tuple[int, int], StudyLedger] = {}  # what each study has tried, read incrementally
        self._llm_recorded: set[tuple[int, int]] = set()
        self._usage_written: dict[tuple[int, int], tuple[int, int]] = {}

    # -- Optuna's contract ---------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        # Finished trials only: a running one may be half-way through its suggest calls, and a
        # space inferred from it would be missing dimensions (and void the buffered batch).
        # Read through the ledger, not Optuna's per-trial cache (empty here: ``ask`` clears it):
        # filling the cache copies the whole trial list, and ``tell`` frees it again.
        known = self._known_distributions(study)
        return {**self._search_space, **known}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        space = to_search_space(search_space)
        with self._propose_lock, trace_context(study=study.study_name, study_id=study._study_id,
                                               trial=trial.number, trial_id=trial._trial_id):
            config = self._propose_and_claim(study, trial, space, search_space)
        with self._state_lock:
            self._claims[_key(study, trial)] = config
            self._own.add(_key(study, trial))
            self._counts["trials_proposed"] += 1
        return {name: config[name] for name in search_space if name in config}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        with self._state_lock:
            claim = self._claims.get(_key(study, trial))
        if claim is not None and param_name in claim:
            value = claim[param_name]
            if not value_problems(param_name, param_distribution, value):
                self._count("independent_from_proposal")
                return value
            reason = "proposed value outside the parameter's current range"
        else:
            reason = "parameter not in the known search space yet"
        if claim is None:  # sampled before the study knows any space: no claim to check against
            if not trial.params:
                self._record_source(study, trial, "random", "the study knew no search space yet")
            value = self._unclaimed_sample(study, trial, param_name, param_distribution)
        else:
            value = self._random_value(self._random_sampler, study, trial, param_name, param_distribution)
        self._count("independent_fallbacks", reason, "independent")
        logger.debug("Trial %d: %s = %r at random (%s)", trial.number, param_name, value, reason)
        return value

    def _random_value(
        self, sampler: RandomSampler, study: Study, trial: FrozenTrial, name: str, distribution: BaseDistribution
    ) -> Any:
        try:
            return sampler.sample_independent(study, trial, name, distribution)
        except (OverflowError, ValueError):  # a range wider than a float: RandomSampler cannot draw
            return to_dimension(name, distribution).sample(self._searcher.rng)

    def _unclaimed_sample(self, study: Study, trial: FrozenTrial, name: str, distribution: BaseDistribution) -> Any:
        """A parameter of a trial that has no claim (the study knew no space when it began:
        the first trials of a define-by-run study). Such trials can run at once in several
        workers; with one ``seed=`` they would draw the same values. So a trial that starts
        while an earlier trial of another worker is running (or has parameters) draws from its
        own stream (the seed and the trial number), and a value that would repeat the
        parameters of another worker's trial so far is drawn again (a bounded number of times).
        A lone worker draws exactly as before: its own trials never count."""
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        key = _key(study, trial)
        with self._state_lock:
            own = set() if self._reseeded else set(self._own)  # threads of one process: every trial counts
            self._own.add(key)
        others = [t for t in trials if t._trial_id != trial._trial_id and t.state != OptunaTrialState.WAITING
                  and (id(study._storage), study._study_id, t._trial_id) not in own]
        with self._state_lock:
            sampler = self._unclaimed.get(key)
            if sampler is None:
                concurrent = any(t.number < trial.number and (t.state == OptunaTrialState.RUNNING or t.params)
                                 for t in others)
                sampler = self._random_sampler
                if concurrent and (self._searcher.seed is None or self._reseeded):
                    sampler = RandomSampler()  # fresh entropy, as the sampler's own stream has
                elif concurrent:
                    entropy = [self._searcher.seed, trial.number]
                    sampler = RandomSampler(seed=int(np.random.SeedSequence(entropy).generate_state(1)[0]))
                self._unclaimed[key] = sampler
        so_far = dict(trial.params)
        same = [t.params for t in others
                if t.params and all(n in t.params and t.params[n] == v for n, v in so_far.items())]
        value = self._random_value(sampler, study, trial, name, distribution)
        for _ in range(UNCLAIMED_REDRAWS):
            if not any(name in p and p[name] == value for p in same):
                break
            value = self._random_value(sampler, study, trial, name, distribution)
        return value

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        # Nothing to do here: the LLM call belongs inside the objective (sample_relative), under
        # the storage heartbeat, not in before_trial.
        pass

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: OptunaTrialState, values: Sequence[float] | None
    ) -> None:
        # Optuna has not stored the state yet: keep the finished trial until it has.
        if self._constraints_func is not None:
            trial = self._apply_constraints_func(study, trial, state)
        finished = observation(trial, state, values, len(study.directions))
        self._after_trial_attrs(study, trial)
        with self._state_lock:
            self._finishing[_key(study, trial)] = finished
            self._claims.pop(_key(study, trial), None)
            self._unclaimed.pop(_key(study, trial), None)
            self._counts["trials_finished"] = self._counts.get("trials_finished", 0) + 1
            if not finished.usable:
                self._counts["trials_failed"] = self._counts.get("trials_failed", 0) + 1
            due = self._log_every > 0 and self._counts["trials_finished"] % self._log_every == 0
        self._warn_about(trial, state, values)
        if due:
            logger.info("%s", self.summary_line())
        read: list[Any] = []  # the study's trials, read once for both checks

        def trials() -> Any:
            if not read:
                read.append(self._trials(study, self._ledger(study)))
            return read[0]

        checks = []
        if self._searcher.has_stop_rule and finished.usable:
            checks.append(("stop rule", lambda: self._stop_if_done(study, finished, trials())))
        if trial.params and self._stop_when_exhausted:
            checks.append(("exhaustion", lambda: self._stop_if_exhausted(study, trial, trials())))
        for what, check in checks:
            try:
                check()
            except Exception:  # never let a bookkeeping error abort Study.optimize
                logger.exception("Trial %d: the %s check failed", trial.number, what)
                self._count("errors")

    def _apply_constraints_func(self, study: Study, trial: FrozenTrial, state: OptunaTrialState) -> FrozenTrial:
        """``constraints_func``'s values stored as Optuna's own samplers store them (the trial's
        ``constraints``, as ``trial.set_constraint`` would), for COMPLETE and PRUNED trials; the
        trial as stored now. A function that raises is logged (WARNING) and the trial has no
        constraint values from it."""
        try:
            _process_constraints_after_trial(self._constraints_func, study, trial, state)  # type: ignore[arg-type]
        except Exception as exc:
            logger.warning("Trial %d: constraints_func raised %s: %s; the trial has no constraint values from it",
                           trial.number, type(exc).__name__, exc)
        try:
            return study._storage.get_trial(trial._trial_id)
        except Exception:
            return trial

    def _stop_if_done(self, study: Study, finishing: Observation, trials: Any) -> None:
        """The method's stop rule (e.g. CoLLM-NAS's target) on the finished trials plus this one:
        the ledger's history (this trial in its storage position, failed trials too), when no
        other thread is proposing; else the study's complete and pruned trials, read again."""
        reason, checked = None, False
        if self._propose_lock.acquire(blocking=False):  # no method reads the history meanwhile
            try:
                ledger, _ = self._refresh(study, trials)
                if not ledger.pruned_without_values:  # else the stored trials differ from the history
                    reason, checked = self._searcher.stop_reason(ledger.history), True
            finally:
                self._propose_lock.release()
        if not checked:
            history = study_history(study)
            history.add(finishing)
            reason = self._searcher.stop_reason(history)
        if reason:
            logger.info("%s: %s; the study is stopped.", self.method.name, reason)
            stop(study)

    def reseed_rng(self) -> None:
        # Called by Optuna before every trial when n_jobs > 1 (and for copies of a sampler):
        # fresh entropy for the random fallback and the method's generator. The proposal
        # buffer and the counters are kept.
        self._random_sampler.reseed_rng()
        self._searcher.rng = np.random.default_rng()
        with self._state_lock:
            self._reseeded = True  # per-trial streams no longer derive from the seed
            self._unclaimed.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in ("_propose_lock", "_state_lock", "_claims", "_finishing", "_unclaimed", "_llm_recorded",
                     "_usage_written", "_ledgers"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_transient()


