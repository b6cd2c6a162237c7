"""One NNI ``Strategy`` that drives any core :class:`~llmnas.methods.base.Method`.

The strategy converts the model space once (:mod:`._space`), then loops: wait for an idle
worker, ask the :class:`~llmnas.searcher.Searcher` for as many proposals as there are idle
workers (one LLM call fills them), freeze and submit each one while the engine has budget.
Engine events (on the engine's listener thread for the web-UI engine) record each model's
metric and end state; the records are the history the method sees.

Budget. NNI's engines own the evaluation budget: every submission is gated on
``engine.budget_available()`` and, when the engine's budget is known
(``SequentialExecutionEngine.max_model_count``, the experiment's ``max_trial_number``), on
the number of models this strategy already submitted, so exactly that many models run. The
method plans with (in this order) the ``budget`` argument, the engine's known budget, or its
own default; the choice is logged.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

import nni
from nni.nas.execution import ExecutionEngine, SequentialExecutionEngine
from nni.nas.execution.event import FinalMetricEvent, ModelEventType, TrainingEndEvent
from nni.nas.execution.training_service import TrainingServiceExecutionEngine
from nni.nas.space import ExecutableModelSpace, ModelStatus
from nni.nas.strategy import Strategy
from nni.nas.strategy.base import StrategyStatus

from llmnas.history import History, Observation, TrialState
from llmnas.knowledge import InMemoryKnowledge
from llmnas.llm.protocol import LLM, trace_context
from llmnas.methods.base import Method
from llmnas.proposals import Proposal, SearchStopped, SpaceExhausted, provenance
from llmnas.screening import SurrogateScreen
from llmnas.searcher import Searcher
from llmnas.space import Config

from ._space import NNISpace, convert_space

logger = logging.getLogger(__name__)

STATE_VERSION = 1
_POLL_S = 0.2
_DONE_PATIENCE_S = 15.0  # how long to wait for trial-end events once NNI says the experiment is done


@dataclass
class ModelRecord:
    """One submitted model: what was proposed, where it came from and how it ended.

    ``state`` is ``"running"``, ``"complete"`` (a final metric was reported and training
    ended well) or ``"failed"``. ``model`` is the submitted ``ExecutableModelSpace`` (held
    here because NNI's web-UI engine keeps only weak references); ``None`` for records
    restored from a ``state_dict``.
    """

    number: int
    config: Config
    source: str
    model: ExecutableModelSpace | None = None
    state: str = "running"
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    submitted_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    finish_order: int = -1
    metric_unusable: bool = False  # a final metric was reported but is not a finite number
    reason: str = ""  # why a fallback stood in for the LLM
    rationale: str = ""  # the LLM's reasoning behind the proposal

    def provenance(self) -> dict[str, str]:
        """``source`` (a label of :data:`llmnas.proposals.SOURCE_LABELS`), ``reason`` and
        ``rationale``, as Optuna trials carry them in ``llmnas_*`` user attributes."""
        label, reason = provenance(self.source, self.reason)
        return {"source": label, "reason": reason, "rationale": self.rationale}

    def observation(self) -> Observation:
        complete = self.state == "complete"
        return Observation(
            dict(self.config), (self.value,) if complete and self.value is not None else None,
            TrialState.COMPLETE if complete else TrialState.FAILED, dict(self.metrics), True, self.number,
        )


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
        llm: an LLM object, a spec (``"openai:gpt-4o-mini"``, ``"local"``, an ``http://…/v1``
            URL) or ``None`` for the environment's choice (see :func:`llmnas.llm.resolve_llm`).
        seed: seeds the method's randomness (fallback operators, LLM sampling seeds).
        budget: evaluations the method plans with (e.g. SEKI's λ/γ split). ``None``: the
            engine's known budget, else the method's default. The engine still decides when
            the search stops.
        optimize_mode: ``"maximize"`` or ``"minimize"`` the reported ``default`` metric.
        task: an optional description of the task, added to the prompts.
        use_llm: ``False`` runs the method's own non-LLM operators only (an ablation).
        temperature: sampling temperature for the LLM (``None``: the backend's default).
        max_calls_per_proposal: LLM call budget: calls ≤ this × proposals (default 0.5).
        role_llms: LLMs for the method's roles (e.g. CoLLM-NAS's ``navigator``/``generator``);
            a role left out uses ``llm``.
        prefetch: ask the method for its next batch in a background thread while models
            train, so idle workers get a model without waiting for the LLM (the batch sees the
            results of when it started). Off by default.
        screen: ``True`` or a :class:`llmnas.SurrogateScreen`: each batch competes with many
            more candidates of the method's own operator and a surrogate fitted on the results
            picks which are evaluated (our addition, not the paper's). Off by default.
        llm_timeout, llm_retries, llm_request_timeout: how long one proposal waits for an
            OpenAI-compatible endpoint at most, all exchanges and retries together (default
            ``LLMNAS_LLM_TIMEOUT``, else 60 s; an endpoint that keeps timing out is called
            less often), the retries of one exchange (4) and the seconds per HTTP attempt (60,
            or ``llm_timeout`` when shorter); see :class:`llmnas.searcher.Searcher`.
    """

    def __init__(
        self,
        method: Method,
        *,
        llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        optimize_mode: Literal["maximize", "minimize"] = "maximize",
        task: str | None = None,
        use_llm: bool = True,
        temperature: float | None = None,
        max_calls_per_proposal: float = 0.5,
        role_llms: Mapping[str, LLM | str | None] | None = None,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
        llm_timeout: float | None = None,
        llm_retries: int | None = None,
        llm_request_timeout: float | None = None,
    ) -> None:
        super().__init__()
        if optimize_mode not in ("maximize", "minimize"):
            raise ValueError(f"optimize_mode must be 'maximize' or 'minimize', got {optimize_mode!r}.")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ValueError(f"budget must be a positive integer or None, got {budget!r}.")
        self.method = method
        self.budget = budget
        self.optimize_mode = optimize_mode
        self.searcher = Searcher(
            method, llm=llm, seed=seed, task=task, use_llm=use_llm, temperature=temperature,
            max_calls_per_proposal=max_calls_per_proposal, role_llms=role_llms, prefetch=prefetch,
            screen=screen, llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )
        self.knowledge = InMemoryKnowledge()
        self._lock = threading.RLock()
        self._nni_space: NNISpace | None = None
        self._records: list[ModelRecord] = []
        self._running: dict[int, ModelRecord] = {}  # id(model) → record, while it runs
        self._by_model: dict[int, ModelRecord] = {}  # id(model) → record, for late events
        self._counter = 0
        self._finished = 0
        self._max_in_flight = 0
        self._submitted_this_run = 0
        self._engine_left: int | None = None
        self._planned_budget: int | None = None
        self._budget_source = "not resolved yet"
        self._exhausted = False
        self._stopped = ""  # why the search stopped before the budget (space exhausted, target reached)
        self._pending_state: Mapping[str, Any] | None = None
        # Models that were running when a checkpoint was saved (no model object): NNI's manager
        # re-runs them on resume; their results are read from NNI's database (``_reconcile``).
        self._orphans: dict[tuple[Any, ...], ModelRecord] = {}
        self._last_reconcile = 0.0
        self._resubmit: list[Proposal] = []  # cancelled by NNI before they were evaluated
        self._checkpoint_lock = threading.Lock()
        self._checkpoint_due = False

    def extra_repr(self) -> str:
        return f"method={self.method.name}, optimize_mode={self.optimize_mode!r}, budget={self.budget}"

    # -- NNI's strategy contract ---------------------------------------------------------------
    def _initialize(self, model_space: ExecutableModelSpace, engine: ExecutionEngine) -> ExecutableModelSpace:
        # The web-UI engine's experiment holds the user's ModelSpace: LayerChoice descriptions.
        experiment = getattr(_unwrap(engine, TrainingServiceExecutionEngine), "nodejs_binding", None)
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
            pipeline = summary.get("pipeline", {})
            usage = summary.get("llm_usage", {})
            logger.info(
                "%s finished: %d models (%d complete, %d failed), best %s; LLM %s: %d calls, %d tokens, "
                "%d errors; %d proposals from the LLM, %d from the fallback operator %s",
                self.method.name, summary["models"]["submitted"], summary["models"]["complete"],
                summary["models"]["failed"], summary["best"], summary["llm"], pipeline.get("llm_calls", 0),
                usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0), pipeline.get("llm_errors", 0),
                pipeline.get("accepted_llm", 0) + pipeline.get("accepted_reask", 0),
                pipeline.get("fallback_proposals", 0), pipeline.get("fallback_reasons", {}),
            )

    # -- the loop's steps ----------------------------------------------------------------------
    def _resolve_budget(self) -> None:
        total, used, where = _engine_budget(self.engine)
        self._engine_left = None if total is None else max(0, total - used)
        with self._lock:
            restored = sum(r.model is None for r in self._records)  # finished, or re-run by NNI
        if self.budget is not None:
            self._planned_budget, self._budget_source = self.budget, "the budget argument"
        elif self._engine_left is not None:
            self._planned_budget = restored + self._engine_left
            self._budget_source = f"the engine's {where}" + (f" plus {restored} restored models" if restored else "")
        else:
            self._planned_budget = self.method.budget_hint()
            self._budget_source = "the method's default (the engine's budget is unknown)"
        logger.info("%s: planning with a budget of %s evaluations (from %s); the engine allows %s more models.",
                    self.method.name, self._planned_budget, self._budget_source,
                    "unknown" if self._engine_left is None else self._engine_left)

    def _may_submit(self, *, wait: bool) -> bool:
        if self._engine_left is not None and self._submitted_this_run >= self._engine_left:
            return False
        return self.wait_for_resource() if wait else self.engine.budget_available()

    def _batch_size(self) -> int:
        n = _idle_workers(self.engine)
        if self._engine_left is not None:
            n = min(n, self._engine_left - self._submitted_this_run)
        return max(1, n)

    def _propose(self, n: int) -> list[Proposal]:
        assert self._nni_space is not None
        with self._lock:
            history = self._history()
            pending = [r.config for r in self._running.values()] + [r.config for r in self._orphans.values()]
        try:
            with trace_context(strategy=self.method.name, experiment=getattr(self._experiment(), "id", None),
                               models=f"{self._counter + 1}-{self._counter + n}"):
                return self.searcher.next_proposals(
                    self._nni_space.space, history, pending, self.knowledge, n,
                    host_validator=self._nni_space.validate, budget=self._planned_budget,
                )
        except SearchStopped as exc:  # the space is exhausted, or the method's stop rule fired
            logger.info("%s. Stop submitting.", str(exc).rstrip("."))
            self._exhausted = isinstance(exc, SpaceExhausted)
            self._stopped = str(exc)
            return []

    def _take_resubmissions(self, n: int) -> list[Proposal]:
        with self._lock:
            taken, self._resubmit = self._resubmit[:n], self._resubmit[n:]
        return taken

    def _stop_requested(self) -> bool:
        """The method's stop rule (e.g. CoLLM-NAS's target), checked between the submissions of
        one batch: engines that run a model per submission (the sequential one) have results by
        then."""
        if type(self.method).stop_reason is Method.stop_reason:
            return False
        with self._lock:
            history = self._history()
        reason = self.searcher.stop_reason(history)
        if reason:
            self._stopped = f"{self.method.name}: {reason}"
            logger.info("%s. Stop submitting.", self._stopped)
        return bool(reason)

    def _submit(self, proposal: Proposal) -> None:
        assert self._nni_space is not None
        model = self._nni_space.freeze(proposal.config)
        with self._lock:
            self._counter += 1
            record = ModelRecord(self._counter, dict(proposal.config), proposal.source, model,
                                 reason=proposal.reason, rationale=proposal.rationale)
            _label_model(model, record)
            self._records.append(record)
            self._running[id(model)] = record
            self._by_model[id(model)] = record
            self._max_in_flight = max(self._max_in_flight, len(self._running))
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
                running = len(self._running) + len(self._orphans)
            if not running:
                return
            now = time.monotonic()
            if now - last_check >= 1.0:
                last_check = now
                status = _experiment_status(self.engine)
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
                record = self._by_model.get(id(event.model))
                if record is None:
                    logger.debug("Final metric of a model this strategy did not submit: ignored.")
                    return
                record.value, record.metrics = _parse_metric(event.metric)
                record.metric_unusable = record.value is None
                if record.value is None:
                    logger.warning("[Model %4d] unusable final metric %r: the model counts as failed.",
                                   record.number, event.metric)
                elif record.state == "failed" and record.finished_at is not None:  # metric after the end
                    record.state = "complete"
        except Exception:  # never break the engine's event loop
            logger.exception("Error while recording a final metric.")

    def _on_training_end(self, event: TrainingEndEvent) -> None:
        try:
            with self._lock:
                record = self._running.pop(id(event.model), None)
                if record is None:
                    logger.debug("Training end of a model this strategy does not run: ignored.")
                    return
                record.finished_at = time.time()
                record.finish_order = self._finished
                self._finished += 1
                ok = event.status == ModelStatus.Trained and record.value is not None
                record.state = "complete" if ok else "failed"
                best = self._history().best()
            if ok:
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
    def _history(self) -> History:
        finished = sorted((r for r in self._records if r.state != "running"), key=lambda r: r.finish_order)
        return History([r.observation() for r in finished], directions=(self.optimize_mode,))

    def history(self) -> History:
        """The finished models as a core :class:`~llmnas.history.History` (finishing order)."""
        with self._lock:
            return self._history()

    def records(self) -> list[dict[str, Any]]:
        """Every submitted model in submission order, as plain dicts: ``number``, ``config``
        (the NNI sample), ``source`` (``llm``/``llm-reask``/``fallback``), ``state``
        (``running``/``complete``/``failed``), ``score`` (the ``default`` metric), ``metrics``
        (the other reported keys), ``submitted_at`` and ``finished_at`` (epoch seconds)."""
        with self._lock:
            records = list(self._records)
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
            records = list(self._records)
        to_sample = self._nni_space.to_sample if self._nni_space is not None else dict
        return [{"number": r.number, "config": to_sample(r.config), **r.provenance(), "state": r.state,
                 "score": r.value} for r in records]

    def summary(self) -> dict[str, Any]:
        """The searcher's summary (method settings, LLM, calls, tokens, pipeline and fallback
        counts) plus the planned ``budget`` and where it came from, model counts, the most
        models in flight at once, the best score and whether the space ran out."""
        out = self.searcher.summary()
        with self._lock:
            states = [r.state for r in self._records]
            best = self._history().best()
            out.update(
                budget=self._planned_budget,
                budget_source=self._budget_source,
                optimize_mode=self.optimize_mode,
                models={"submitted": len(states), "complete": states.count("complete"),
                        "failed": states.count("failed"), "running": states.count("running")},
                max_in_flight=self._max_in_flight,
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
        if self._status in (StrategyStatus.INITIALIZED, StrategyStatus.EMPTY) and not self._records:
            raise RuntimeError("Strategy has not been run.")
        with self._lock:
            models = [self._model_of(r) for r in self._records]
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
            return _plain_data({
                "version": STATE_VERSION,
                "method": self.method.name,
                "optimize_mode": self.optimize_mode,
                "model_counter": self._counter,
                "max_in_flight": self._max_in_flight,
                "records": [
                    {"number": r.number, "config": space.encode(r.config), "source": r.source, "state": r.state,
                     "value": r.value, "metrics": {k: v for k, v in r.metrics.items() if _is_json(v)},
                     "submitted_at": r.submitted_at, "finished_at": r.finished_at, "reason": r.reason,
                     "rationale": r.rationale}
                    for r in sorted(self._records, key=lambda r: (r.state == "running", r.finish_order))
                ],
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
        records: list[ModelRecord] = []
        orphans: dict[tuple[Any, ...], ModelRecord] = {}
        for item in state.get("records", []):
            config, errors = space.decode(item["config"])
            if errors:
                logger.warning("[Model %4d] does not fit this space (%s): dropped.", item.get("number", -1), errors[0])
                continue
            running = item.get("state") == "running"
            record = ModelRecord(
                int(item["number"]), config, str(item.get("source", "")), None, str(item["state"]),
                item.get("value"), dict(item.get("metrics") or {}), float(item.get("submitted_at") or 0.0),
                item.get("finished_at"), -1 if running else len(records),
                reason=str(item.get("reason") or ""), rationale=str(item.get("rationale") or ""),
            )
            records.append(record)
            if running:
                orphans[space.key(config)] = record
        with self._lock:
            self._records = records
            self._orphans = orphans
            self._running.clear()
            self._by_model.clear()
            self._finished = len(records) - len(orphans)
            self._counter = int(state.get("model_counter", len(records)))
            self._max_in_flight = int(state.get("max_in_flight", 0))
        for key, value in (state.get("knowledge") or {}).items():
            self.knowledge.put(key, value)
        if "searcher" in state:
            self.searcher.load_state_dict(state["searcher"], space)
        logger.info("%s: restored %d models (%d were running) and %d knowledge entries.", self.method.name,
                    len(records), len(orphans), len(state.get("knowledge") or {}))

    # -- resuming a killed experiment ------------------------------------------------------------
    def _experiment(self) -> Any:
        """The web-UI engine's ``NasExperiment`` running this strategy, or ``None``."""
        ts = _unwrap(getattr(self, "_engine", None), TrainingServiceExecutionEngine)
        experiment = getattr(ts, "nodejs_binding", None)
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
                _save_checkpoint_atomically(experiment)
            except Exception as exc:  # a checkpoint must never stop the search
                logger.warning("Could not save the experiment's checkpoint: %s", exc)

    def _reconcile(self, *, first: bool = False) -> None:
        """Bring the records up to date with NNI's database (web-UI engine only).

        On a resumed experiment, models that were running when it was killed are re-run by
        NNI's manager, whose events reach no strategy: their results are read here. Models
        that finished after the last checkpoint are added (``source`` ``"restored"``). Called
        when the run starts, then at most every 2 s while such models run."""
        ts = _unwrap(self.engine, TrainingServiceExecutionEngine)
        if self._nni_space is None or ts is None:
            return
        now = time.monotonic()
        if not first and (not self._orphans or now - self._last_reconcile < 2.0):
            return
        self._last_reconcile = now
        space = self._nni_space.space
        seen: set[tuple[Any, ...]] = set()
        try:
            trials = [(t.status, t.hyperParameters[0].parameters, t.finalMetricData)
                      for t in ts.nodejs_binding.list_trial_jobs() if len(t.hyperParameters) == 1]
        except Exception as exc:
            logger.warning("Could not read the experiment's trials from NNI: %s", exc)
            return
        with self._lock:
            running = {space.key(r.config) for r in self._running.values()}
            finished = {space.key(r.config) for r in self._records if r.state != "running"}
            for trial_status, parameters, final in trials:
                try:
                    config = self._nni_space.from_sample(nni.load(nni.dump(parameters)).sample)
                except Exception as exc:
                    logger.debug("A trial in NNI's database does not fit this space: %s", exc)
                    continue
                key = space.key(config)
                seen.add(key)
                if key in finished or key in running:
                    continue
                status = str(trial_status)
                record = self._orphans.get(key)
                if record is None:
                    self._counter += 1
                    record = ModelRecord(self._counter, config, "restored", None)
                    self._records.append(record)
                    logger.info("[Model %4d] found in NNI's database: %s", record.number, space.format_config(config))
                if status not in _ENDED_TRIAL_STATUSES:  # e.g. ADD_RESUMED, WAITING, RUNNING
                    self._orphans[key] = record
                    continue
                self._orphans.pop(key, None)
                if status in _CANCELLED_TRIAL_STATUSES and not final:
                    # NNI's manager cancels running trials when the experiment's process dies
                    # (it sees the tuner disconnect): never evaluated, so submitted again.
                    self._records.remove(record)
                    self._resubmit.append(Proposal(record.config, record.source or "resubmitted"))
                    logger.warning("[Model %4d] was cancelled by NNI when the experiment stopped, before it "
                                   "was evaluated: it will be submitted again.", record.number)
                    continue
                record.value, record.metrics = _parse_metric(_final_metric(final))
                record.state = "complete" if status == "SUCCEEDED" and record.value is not None else "failed"
                record.finished_at = time.time()
                record.finish_order = self._finished
                self._finished += 1
                finished.add(key)
                logger.info("[Model %4d] %s after the resume: %s", record.number, record.state,
                            record.value if record.value is not None else status)
            if first:
                lost = [r for k, r in self._orphans.items() if k not in seen]
                for record in lost:
                    logger.warning("[Model %4d] was running when the state was saved and the engine does not know "
                                   "it: dropped (it may be proposed again).", record.number)
                    self._records.remove(record)
                    del self._orphans[space.key(record.config)]


# -- helpers -------------------------------------------------------------------------------------
def _label_model(model: Any, record: ModelRecord) -> None:
    """Attach the record's provenance to its NNI model object (``model.llmnas_provenance``)."""
    try:
        model.llmnas_provenance = record.provenance()
    except Exception:  # a model class that refuses attributes: the provenance() table still has it
        logger.debug("[Model %4d] cannot carry its provenance", record.number)


def _unwrap(engine: Any, kind: type) -> Any:
    """The engine of type ``kind`` inside middlewares, or ``None``."""
    for _ in range(16):
        if isinstance(engine, kind):
            return engine
        engine = getattr(engine, "_engine", None)
        if engine is None:
            return None
    return None


def _engine_budget(engine: ExecutionEngine) -> tuple[int | None, int, str]:
    """``(total, already used, name)`` of the engine's model budget; total ``None`` if unknown."""
    sequential = _unwrap(engine, SequentialExecutionEngine)
    if sequential is not None:
        return sequential.max_model_count, int(sequential._model_count), "max_model_count"
    ts = _unwrap(engine, TrainingServiceExecutionEngine)
    if ts is not None:
        total = getattr(getattr(ts.nodejs_binding, "config", None), "max_trial_number", None)
        if not isinstance(total, int) or isinstance(total, bool):
            return None, 0, "max_trial_number"
        try:
            used = len(ts.nodejs_binding.list_trial_jobs())
        except Exception:  # a manager that cannot list yet has run nothing
            used = 0
        return total, used, "max_trial_number"
    return None, 0, "budget"


def _idle_workers(engine: ExecutionEngine) -> int:
    """How many models the engine can take now (at least 1)."""
    count = getattr(engine, "idle_worker_count", None)
    if callable(count):
        count = count()
    if not isinstance(count, int):
        ts = _unwrap(engine, TrainingServiceExecutionEngine)
        count = getattr(ts, "_workers", 1) if ts is not None else 1
    return max(1, int(count)) if isinstance(count, int) else 1


def _experiment_status(engine: ExecutionEngine) -> str | None:
    ts = _unwrap(engine, TrainingServiceExecutionEngine)
    if ts is None:
        return None
    if getattr(ts, "_stopped", False):
        return "STOPPED"
    try:
        return str(ts.nodejs_binding.get_status())
    except Exception:
        return "ERROR"


_ENDED_TRIAL_STATUSES = ("SUCCEEDED", "FAILED", "USER_CANCELED", "SYS_CANCELED", "EARLY_STOPPED")
"""NNI manager trial statuses after which a trial never runs again (a resumed experiment
re-runs the others, e.g. ``RUNNING`` or ``ADD_RESUMED``)."""


_CANCELLED_TRIAL_STATUSES = ("USER_CANCELED", "SYS_CANCELED")


def _final_metric(final_metric_data: Any) -> Any:
    """A trial's final metric as reported (the last one; the database may hold JSON text)."""
    if not final_metric_data:
        return None
    raw = final_metric_data[-1].data
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            pass
    return raw


def _save_checkpoint_atomically(experiment: Any) -> None:
    """``experiment.save_checkpoint()``'s state file, written to a temporary folder beside it
    and moved into place (NNI writes it in place: a kill while writing would corrupt it)."""
    from nni.nas.utils.serializer import get_default_serializer

    directory = Path(experiment._checkpoint_directory)
    if not (directory / "config.json").exists():
        return  # NNI writes the config and the first state when the experiment starts
    state = experiment.state_dict()
    staging = Path(tempfile.mkdtemp(prefix=".llmnas-", dir=directory))
    try:
        get_default_serializer().save(state, staging / "state.ckpt")
        for file in staging.iterdir():
            os.replace(file, directory / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.debug("Checkpoint saved to %s.", directory)


def _parse_metric(raw: Any) -> tuple[float | None, dict[str, Any]]:
    """The objective (``default`` of a dict, or the number itself) and the other keys."""
    metrics: dict[str, Any] = {}
    value = raw
    if isinstance(raw, Mapping):
        value = raw.get("default")
        for key, item in raw.items():
            if key != "default":
                metrics[str(key)] = _plain(item)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, metrics
    return float(value), metrics


def _plain(value: Any) -> Any:
    """A numpy or torch scalar as a Python number; anything else unchanged."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError, RuntimeError):
            return value
    return value


def _status_text(status: Any) -> str:
    return str(getattr(status, "value", status)).lower()


def _plain_data(value: Any) -> Any:
    """``value`` with str/int/float subclasses (NNI labels, numpy scalars) as the plain types,
    so the state pickles and loads anywhere (torch's weights-only loader included)."""
    if isinstance(value, Mapping):
        return {_plain_data(k): _plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return _plain(value)


def _is_json(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))
