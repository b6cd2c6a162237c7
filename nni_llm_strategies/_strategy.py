"""One NNI ``Strategy`` that drives any core :class:`~llmnas.methods.base.Method`.

The strategy converts the model space once (:mod:`._space`), then loops: wait for an idle
worker, ask the :class:`~llmnas.searcher.Searcher` for as many proposals as there are idle
workers (one LLM call fills them), freeze and submit each one while the engine has budget.
Engine events (on the engine's listener thread for the web-UI engine) record each model's
metric and end state in the strategy's :class:`~._ledger.Ledger`, whose one History (appended
to as models end, never rebuilt) is what the method sees. NNI's engines are read in
:mod:`._engine`.

Budget. NNI's engines own the evaluation budget: every submission is gated on
``engine.budget_available()`` and, when the engine's budget is known
(``SequentialExecutionEngine.max_model_count``, the experiment's ``max_trial_number``), on
the number of models this strategy already submitted, so exactly that many models run. The
method plans with (in this order) the ``budget`` argument, the engine's known budget, or its
own default; the choice is logged.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator, Literal, Mapping

from nni.nas.execution import ExecutionEngine
from nni.nas.execution.event import FinalMetricEvent, ModelEventType, TrainingEndEvent
from nni.nas.space import ExecutableModelSpace, ModelStatus
from nni.nas.strategy import Strategy
from nni.nas.strategy.base import StrategyStatus

from llmnas.history import History
from llmnas.knowledge import InMemoryKnowledge
from llmnas.llm.protocol import trace_context
from llmnas.methods.base import Method
from llmnas.options import SearchOptions, SearchOptionsKwargs, check_keywords
from llmnas.proposals import Proposal, SearchStopped, SpaceExhausted
from llmnas.searcher import Searcher

from ._engine import (
    engine_budget, experiment_status, idle_workers, list_trials, save_checkpoint_atomically, web_ui_engine,
)
from ._ledger import ModelRecord, Ledger, parse_metric, plain_data
from ._space import NNISpace, convert_space

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["LLMStrategy", "ModelRecord", "STATE_VERSION", "STRATEGY_KEYWORDS", "StrategyKwargs", "parse_metric"]

logger = logging.getLogger(__name__)

STATE_VERSION = 1
_POLL_S = 0.2
_DONE_PATIENCE_S = 15.0  # how long to wait for trial-end events once NNI says the experiment is done


class StrategyKwargs(SearchOptionsKwargs, total=False):
    """:class:`LLMStrategy`'s keywords: the shared options and the strategy's own (documented on
    :class:`LLMStrategy`)."""

    optimize_mode: Literal["maximize", "minimize"]


STRATEGY_KEYWORDS = frozenset({"optimize_mode"})
"""The keywords :class:`LLMStrategy` takes beyond the shared options."""


class LLMStrategy(Strategy):
    """An NNI multi-trial strategy driven by an LLM-guided search method.

    Use a subclass that picks the method (``SEKIStrategy``); this base works with any
    :class:`llmnas.methods.base.Method`. The strategy proposes only what to try next: NNI
    runs the trials, keeps the models and shows them in its web UI.

    Example:
        >>> from nni.nas.execution import SequentialExecutionEngine
        >>> from nni.nas.hub.pytorch import NasBench201
        >>> from nni.nas.space import RawFormatModelSpace
        >>> from nni.nas.evaluator import FunctionalEvaluator
        >>> from llmnas.methods import SEKI
        >>> import nni
        >>> def evaluate(model):
        ...     sample = nni.get_current_parameter().sample
        ...     nni.report_final_result(sum(op == "conv_3x3" for op in sample.values()) / 6)
        >>> space = RawFormatModelSpace.from_model(NasBench201(), FunctionalEvaluator(evaluate))
        >>> strategy = LLMStrategy(SEKI(), seed=0, use_llm=False)   # no LLM: SEKI's own operators
        >>> strategy(space, SequentialExecutionEngine(max_model_count=6))
        >>> len(strategy.records()), strategy.summary()["budget"]
        (6, 6)

    Args:
        method: the search method.
        options: the shared options as one :class:`llmnas.SearchOptions`, or given as keywords
            (``llm``, ``seed``, ``budget``, ``use_llm``, ``screen``, ``prefetch``, the call limits
            and timeouts, ``role_llms``: each documented there, once). ``budget`` ``None``: the
            engine's known budget, else the method's default; the engine still decides when the
            search stops.
        optimize_mode: ``"maximize"`` or ``"minimize"`` the reported ``default`` metric.
    """

    def __init__(
        self, method: Method, *, options: SearchOptions | None = None, **keywords: Unpack[StrategyKwargs],
    ) -> None:
        super().__init__()
        check_keywords(type(self).__name__, keywords, STRATEGY_KEYWORDS | set(SearchOptions.names()))
        shared, own = SearchOptions.pick(keywords)
        if options is not None and set(keywords) - STRATEGY_KEYWORDS:
            raise TypeError(f"{type(self).__name__}() takes options= or the options as keywords, not both.")
        options = options or shared
        optimize_mode = own.get("optimize_mode", "maximize")
        if optimize_mode not in ("maximize", "minimize"):
            raise ValueError(f"optimize_mode must be 'maximize' or 'minimize', got {optimize_mode!r}.")
        budget = options.budget
        self.method = method
        self.budget = budget
        self.optimize_mode = optimize_mode
        self.searcher = Searcher(method, options=options)
        self.knowledge = InMemoryKnowledge()
        self._lock = threading.RLock()
        self._nni_space: NNISpace | None = None
        self._ledger = Ledger(optimize_mode)  # every model; the finished ones as one growing History
        self._searching = False  # a batch is being proposed from the ledger's History
        self._submitted_this_run = 0
        self._engine_left: int | None = None
        self._planned_budget: int | None = None
        self._budget_source = "not resolved yet"
        self._exhausted = False
        self._stopped = ""  # why the search stopped before the budget (space exhausted, target reached)
        self._pending_state: Mapping[str, Any] | None = None
        self._last_reconcile = 0.0
        self._resubmit: list[Proposal] = []  # cancelled by NNI before they were evaluated
        self._checkpoint_lock = threading.Lock()
        self._checkpoint_due = False

    def extra_repr(self) -> str:
        return f"method={self.method.name}, optimize_mode={self.optimize_mode!r}, budget={self.budget}"

    # -- NNI's strategy contract ---------------------------------------------------------------
    def _initialize(self, model_space: ExecutableModelSpace, engine: ExecutionEngine) -> ExecutableModelSpace:
        # The web-UI engine's experiment holds the user's ModelSpace: LayerChoice descriptions.
        experiment = getattr(web_ui_engine(engine), "nodejs_binding", None)
        self._nni_space = convert_space(model_space, modules=getattr(experiment, "model_space", None))
        space = self._nni_space.space
        logger.info("%s: %d dimensions, %g configurations%s", self.method.name, len(space), space.size(),
                    f"; not searched (checked by NNI): {self._nni_space.skipped}" if self._nni_space.skipped else "")
        engine.register_model_event_callback(ModelEventType.FinalMetric, self._on_final_metric)
        engine.register_model_event_callback(ModelEventType.TrainingEnd, self._on_training_end)
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self._load(state)
        return model_space

    def _cleanup(self) -> None:
        for event, callback in ((ModelEventType.FinalMetric, self._on_final_metric),
                                (ModelEventType.TrainingEnd, self._on_training_end)):
            try:
                self.engine.unregister_model_event_callback(event, callback)
            except ValueError:  # not registered
                pass

    def _run(self) -> None:
        self._reconcile(first=True)
        self._resolve_budget()
        try:
            while self._may_submit(wait=True):
                self._reconcile()
                self._save_checkpoint(only_if_due=True)
                proposals = self._take_resubmissions(self._batch_size()) or self._propose(self._batch_size())
                if not proposals:
                    break
                for i, proposal in enumerate(proposals):
                    if i and (not self._may_submit(wait=False) or self._stop_requested()):
                        break
                    self._submit(proposal)
                self._save_checkpoint()
            if not self._stopped:
                logger.info("%s: budget exhausted after %d submitted models.", self.method.name,
                            self._submitted_this_run)
            self._wait_for_running()
        finally:
            summary = self.summary()
            models = summary["models"]
            logger.info("%s", self.searcher.summary_line(
                f"finished: {models['submitted']} models ({models['complete']} complete, {models['failed']} failed), "
                f"best {summary['best']}"))

    # -- the loop's steps ----------------------------------------------------------------------
    def _resolve_budget(self) -> None:
        total, used, where = engine_budget(self.engine)
        self._engine_left = None if total is None else max(0, total - used)
        with self._lock:
            restored = sum(r.model is None for r in self._ledger.records)  # finished, or re-run by NNI
        host = None if self._engine_left is None else restored + self._engine_left
        self._planned_budget, self._budget_source = self.searcher.plan_budget(
            host, f"the engine's {where}" + (f" plus {restored} restored models" if restored else ""))
        logger.info("%s: planning with a budget of %s evaluations (from %s); the engine allows %s more models.",
                    self.method.name, self._planned_budget, self._budget_source,
                    "unknown" if self._engine_left is None else self._engine_left)

    def _may_submit(self, *, wait: bool) -> bool:
        if self._engine_left is not None and self._submitted_this_run >= self._engine_left:
            return False
        return self.wait_for_resource() if wait else self.engine.budget_available()

    def _batch_size(self) -> int:
        n = idle_workers(self.engine)
        if self._engine_left is not None:
            n = min(n, self._engine_left - self._submitted_this_run)
        return max(1, n)

    def _synced_history(self) -> History:
        """The ledger's History with the models that ended since the last call appended; while
        a prefetched batch is being computed from it, it is left as it is (the models that
        ended meanwhile count as pending). Callers hold the lock."""
        prefetch = getattr(self.searcher, "_prefetch_thread", None)
        if self._searching or (prefetch is not None and prefetch.is_alive()):
            return self._ledger.history
        return self._ledger.sync()

    def _propose(self, n: int) -> list[Proposal]:
        assert self._nni_space is not None
        with self._lock:
            history = self._synced_history()
            pending = self._ledger.pending()
            first = self._ledger.counter + 1
            self._searching = True
        try:
            with trace_context(strategy=self.method.name, experiment=getattr(self._experiment(), "id", None),
                               models=f"{first}-{first + n - 1}"):
                return self.searcher.next_proposals(
                    self._nni_space.space, history, pending, self.knowledge, n,
                    host_validator=self._nni_space.validate, budget=self._planned_budget,
                )
        except SearchStopped as exc:  # the space is exhausted, or the method's stop rule fired
            logger.info("%s. Stop submitting.", str(exc).rstrip("."))
            self._exhausted = isinstance(exc, SpaceExhausted)
            self._stopped = str(exc)
            return []
        finally:
            with self._lock:
                self._searching = False

    def _take_resubmissions(self, n: int) -> list[Proposal]:
        with self._lock:
            taken, self._resubmit = self._resubmit[:n], self._resubmit[n:]
        return taken

    def _stop_requested(self) -> bool:
        """The method's stop rule (e.g. CoLLM-NAS's target), checked between the submissions of
        one batch: engines that run a model per submission (the sequential one) have results by
        then."""
        if not self.searcher.has_stop_rule:
            return False
        with self._lock:
            history = self._synced_history()
        reason = self.searcher.stop_reason(history)
        if reason:
            self._stopped = f"{self.method.name}: {reason}"
            logger.info("%s. Stop submitting.", self._stopped)
        return bool(reason)

    def _submit(self, proposal: Proposal) -> None:
        assert self._nni_space is not None
        model = self._nni_space.freeze(proposal.config)
        with self._lock:
            record = self._ledger.submit(proposal, model)
            _label_model(model, record)
            self._submitted_this_run += 1
        logger.info("[Model %4d] %s: %s", record.number, proposal.source,
                    self._nni_space.space.format_config(record.config))
        self.engine.submit_models(model)

    def _wait_for_running(self) -> None:
        done_since: float | None = None
        last_check = 0.0
        while True:
            self._reconcile()
            self._save_checkpoint(only_if_due=True)
            with self._lock:
                running = len(self._ledger.running) + len(self._ledger.orphans)
            if not running:
                return
            now = time.monotonic()
            if now - last_check >= 1.0:
                last_check = now
                status = experiment_status(self.engine)
                if status in ("STOPPED", "ERROR", "STOPPING"):
                    logger.warning("The experiment is %s; %d models never reported their end.", status, running)
                    return
                if status == "DONE":
                    done_since = done_since or now
                    if now - done_since > _DONE_PATIENCE_S:
                        logger.warning("The experiment is done but %d models never reported their end.", running)
                        return
            time.sleep(_POLL_S)

    # -- engine events (on the engine's listener thread in the web-UI engine) -------------------
    def _on_final_metric(self, event: FinalMetricEvent) -> None:
        try:
            with self._lock:
                record = self._ledger.final_metric(event.model, event.metric)
            if record is None:
                logger.debug("Final metric of a model this strategy did not submit: ignored.")
            elif record.value is None:
                logger.warning("[Model %4d] unusable final metric %r: the model counts as failed.",
                               record.number, event.metric)
        except Exception:  # never break the engine's event loop
            logger.exception("Error while recording a final metric.")

    def _on_training_end(self, event: TrainingEndEvent) -> None:
        try:
            with self._lock:
                record = self._ledger.training_end(event.model, event.status == ModelStatus.Trained)
                best = self._ledger.best()
            if record is None:
                logger.debug("Training end of a model this strategy does not run: ignored.")
                return
            if record.state == "complete":
                logger.info("[Model %4d] %s: %.6g (best %.6g)", record.number, _status_text(event.status),
                            record.value, best.value if best is not None and best.value is not None else math.nan)
            else:
                reason = _status_text(event.status)
                if event.status == ModelStatus.Trained:
                    reason = ("unusable final metric (NaN, inf or not a number)" if record.metric_unusable
                              else "no final metric")
                logger.warning("[Model %4d] failed (%s); it will not be proposed again.", record.number, reason)
        except Exception:
            logger.exception("Error while recording the end of a model.")
            return
        self._checkpoint_due = True  # saved by the main loop (never on NNI's listener thread)

    # -- what the search found -------------------------------------------------------------------
    def history(self) -> History:
        """The finished models as a core :class:`~llmnas.history.History` (finishing order).

        This is the strategy's own ledger, appended to as models end (not a copy): read it,
        do not add to it. While a batch is being proposed from it, models that ended meanwhile
        are added at the next proposal."""
        with self._lock:
            return self._synced_history()

    def records(self) -> list[dict[str, Any]]:
        """Every submitted model in submission order, as plain dicts: ``number``, ``config``
        (the NNI sample), ``source`` (``llm``/``llm-reask``/``fallback``), ``state``
        (``running``/``complete``/``failed``), ``score`` (the ``default`` metric), ``metrics``
        (the other reported keys), ``submitted_at`` and ``finished_at`` (epoch seconds)."""
        with self._lock:
            records = list(self._ledger.records)
        to_sample = self._nni_space.to_sample if self._nni_space is not None else dict
        return [
            {"number": r.number, "config": to_sample(r.config), "source": r.source, "state": r.state,
             "score": r.value, "metrics": dict(r.metrics), "submitted_at": r.submitted_at,
             "finished_at": r.finished_at}
            for r in records
        ]

    def provenance(self) -> list[dict[str, Any]]:
        """Why each model was tried, in submission order: ``number``, ``config`` (the NNI
        sample), ``source`` (a label of :data:`llmnas.proposals.SOURCE_LABELS`: ``llm``,
        ``llm-reask``, ``operator:<name>``, ``screen``, ``fallback``, ...), ``reason`` (why a
        fallback stood in for the LLM), ``rationale`` (the LLM's reasoning behind its
        proposal, at most 300 characters), ``state`` and ``score``. The models of
        :meth:`list_models` and :meth:`export_top_models` carry the same as their
        ``llmnas_provenance`` attribute."""
        with self._lock:
            records = list(self._ledger.records)
        to_sample = self._nni_space.to_sample if self._nni_space is not None else dict
        return [{"number": r.number, "config": to_sample(r.config), **r.provenance(), "state": r.state,
                 "score": r.value} for r in records]

    def summary(self) -> dict[str, Any]:
        """The searcher's summary (method settings, LLM, calls, tokens, pipeline and fallback
        counts) plus the planned ``budget`` and where it came from, model counts, the most
        models in flight at once, the best score and whether the space ran out."""
        out = self.searcher.summary()
        with self._lock:
            best = self._ledger.best()
            out.update(
                budget=self._planned_budget,
                budget_source=self._budget_source,
                optimize_mode=self.optimize_mode,
                models=self._ledger.counts(),
                max_in_flight=self._ledger.max_in_flight,
                best=best.value if best is not None else None,
                space_exhausted=self._exhausted,
                stopped=self._stopped or None,
            )
        return out

    def list_models(self, sort: bool = True, limit: int | None = None) -> Iterator[ExecutableModelSpace]:
        """The models this strategy submitted (also after the experiment stopped).

        With ``sort``, only trained models with a metric, best first by ``optimize_mode``
        (NNI's built-ins sort descending whatever the direction). Models restored from a
        ``state_dict`` are re-frozen from their samples, with their metric and status.
        """
        if self._status in (StrategyStatus.INITIALIZED, StrategyStatus.EMPTY) and not self._ledger.records:
            raise RuntimeError("Strategy has not been run.")
        with self._lock:
            models = [self._model_of(r) for r in self._ledger.records]
        models = [m for m in models if m is not None]
        if not sort:
            yield from models[:limit]
            return
        trained = [m for m in models if m.status == ModelStatus.Trained and m.metric is not None]
        if limit is not None and limit > len(trained):
            logger.warning("Only %d models are trained, but %d top models are requested.", len(trained), limit)
        yield from sorted(trained, key=lambda m: m.metric, reverse=self.optimize_mode == "maximize")[:limit]

    def export_top_models(self, top_k: int = 1, *, formatter: Literal["dict", "instance"] | None = None) -> list[Any]:
        """The ``top_k`` best models, like ``NasExperiment.export_top_models``: model objects,
        or their samples (``formatter="dict"``) or runnable modules (``"instance"``)."""
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}.")
        models = list(self.list_models(sort=True, limit=top_k))
        if formatter is None:
            return models
        if formatter == "dict":
            return [m.sample for m in models]
        if formatter == "instance":
            return [m.executable_model() for m in models]
        raise ValueError(f"formatter must be None, 'dict' or 'instance', got {formatter!r}.")

    def _model_of(self, record: ModelRecord) -> ExecutableModelSpace | None:
        if record.model is None and self._nni_space is not None and record.state != "running":
            try:
                model = self._nni_space.freeze(record.config)
            except Exception as exc:
                logger.debug("[Model %4d] cannot be re-frozen: %s", record.number, exc)
                return None
            model.status = ModelStatus.Trained if record.state == "complete" else ModelStatus.Failed
            if record.value is not None:
                model.metrics.final = record.value
            _label_model(model, record)
            record.model = model
        return record.model

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A JSON-able state: the models (configs, scores, states), the knowledge, the
        searcher (random state, counters, buffered proposals) and the counters."""
        if self._nni_space is None:
            return dict(self._pending_state) if self._pending_state is not None else {"version": STATE_VERSION}
        space = self._nni_space.space
        with self._lock:
            return plain_data({
                "version": STATE_VERSION,
                "method": self.method.name,
                "optimize_mode": self.optimize_mode,
                "model_counter": self._ledger.counter,
                "max_in_flight": self._ledger.max_in_flight,
                "records": self._ledger.to_state(space),
                "knowledge": self.knowledge.items(),
                "searcher": self.searcher.state_dict(space),
            })

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` (after ``initialize``, as NNI does; before it, the
        state is kept and applied at ``initialize``). Models that were running when it was
        saved stay pending until the run starts: NNI's manager re-runs them when an experiment
        is resumed, and their results are read from its database; any the engine does not
        know are dropped with a warning (they may be proposed again)."""
        if self._nni_space is None:
            self._pending_state = state_dict
            return
        self._load(state_dict)

    def _load(self, state: Mapping[str, Any]) -> None:
        assert self._nni_space is not None
        if not state.get("records") and not state.get("knowledge") and "searcher" not in state:
            return  # an empty state (saved before the search started)
        if state.get("version") != STATE_VERSION:
            logger.warning("State version %r differs from %r; restoring what matches.", state.get("version"),
                           STATE_VERSION)
        if state.get("method") not in (None, self.method.name):
            logger.warning("The state was saved by %s, not %s.", state.get("method"), self.method.name)
        space = self._nni_space.space
        with self._lock:
            self._ledger.restore(state.get("records", []), space, counter=state.get("model_counter"),
                                 max_in_flight=int(state.get("max_in_flight", 0)))
            n_records, n_orphans = len(self._ledger.records), len(self._ledger.orphans)
        for key, value in (state.get("knowledge") or {}).items():
            self.knowledge.put(key, value)
        if "searcher" in state:
            self.searcher.load_state_dict(state["searcher"], space)
        logger.info("%s: restored %d models (%d were running) and %d knowledge entries.", self.method.name,
                    n_records, n_orphans, len(state.get("knowledge") or {}))

    # -- resuming a killed experiment ------------------------------------------------------------
    def _experiment(self) -> Any:
        """The web-UI engine's ``NasExperiment`` running this strategy, or ``None``."""
        experiment = getattr(web_ui_engine(getattr(self, "_engine", None)), "nodejs_binding", None)
        if getattr(experiment, "strategy", None) is not self or not hasattr(experiment, "_checkpoint_directory"):
            return None
        return experiment

    def _save_checkpoint(self, *, only_if_due: bool = False) -> None:
        """Save the experiment's checkpoint now (NNI saves one only when an experiment starts
        and stops), so a killed experiment resumes with every finished model and all the
        knowledge: after each batch of submissions, and when the loop wakes after models
        ended. The file is replaced atomically; a kill while saving leaves the previous one
        (models that ended since are read back from NNI's database on resume)."""
        if only_if_due and not self._checkpoint_due:
            return
        self._checkpoint_due = False
        experiment = self._experiment()
        if experiment is None:
            return
        with self._checkpoint_lock:
            try:
                save_checkpoint_atomically(experiment)
            except Exception as exc:  # a checkpoint must never stop the search
                logger.warning("Could not save the experiment's checkpoint: %s", exc)

    def _reconcile(self, *, first: bool = False) -> None:
        """Bring the records up to date with NNI's database (web-UI engine only).

        On a resumed experiment, models that were running when it was killed are re-run by
        NNI's manager, whose events reach no strategy: their results are read here. Models
        that finished after the last checkpoint are added (``source`` ``"restored"``). Called
        when the run starts, then at most every 2 s while such models run."""
        if self._nni_space is None or web_ui_engine(self.engine) is None:
            return
        now = time.monotonic()
        if not first and (not self._ledger.orphans or now - self._last_reconcile < 2.0):
            return
        self._last_reconcile = now
        trials = list_trials(self.engine)
        if trials is None:
            return
        with self._lock:
            self._resubmit.extend(self._ledger.reconcile(trials, self._nni_space, first=first))


# -- helpers -------------------------------------------------------------------------------------
def _label_model(model: Any, record: ModelRecord) -> None:
    """Attach the record's provenance to its NNI model object (``model.llmnas_provenance``)."""
    try:
        model.llmnas_provenance = record.provenance()
    except Exception:  # a model class that refuses attributes: the provenance() table still has it
        logger.debug("[Model %4d] cannot carry its provenance", record.number)


def _status_text(status: Any) -> str:
    return str(getattr(status, "value", status)).lower()
