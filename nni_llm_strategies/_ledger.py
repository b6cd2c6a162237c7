"""The strategy's ledger: every submitted model, and the finished ones as one growing History.

NNI's engine events (a final metric, a training end) and the models found in NNI's database
on a resume update the :class:`ModelRecord` of a model; a model that ends is queued, and
:meth:`Ledger.sync` appends the queued ones to the ledger's one
:class:`~llmnas.history.History` in the order they ended. The History is never rebuilt from
the records, so a proposal costs the same after 10 or 10,000 models; the one exception is a
final metric that arrives after its model's end was already in the History (NNI's web-UI
engine may deliver the two events in either order): the next sync rebuilds the History once.

Appending happens only in :meth:`Ledger.sync`, which the strategy calls from its own loop
while no proposal is being computed, so a method never sees the History change under it;
ended models that are not in the History yet count as pending (:meth:`Ledger.pending`), so
they are never proposed again. The ledger is not thread-safe by itself: callers hold the
strategy's lock.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import nni
from nni.nas.space import ExecutableModelSpace

from llmnas.history import History, Observation, TrialState
from llmnas.proposals import Proposal, provenance
from llmnas.space import Config, SearchSpace

from ._space import NNISpace

logger = logging.getLogger(__name__)


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
            provenance(self.source, self.reason)[0] if self.source else "",
        )


class Ledger:
    """The models of one strategy (see the module docstring).

    Attributes:
        records: every model, in submission order (restored ones first).
        running: ``id(model)`` → record, while the model runs.
        orphans: space key → record of models that were running when a checkpoint was saved
            (no model object): NNI's manager re-runs them on a resume.
        counter: the last model number given out.
        max_in_flight: the most models running at once.
    """

    def __init__(self, optimize_mode: str) -> None:
        self.optimize_mode = optimize_mode
        self.records: list[ModelRecord] = []
        self.running: dict[int, ModelRecord] = {}
        self.orphans: dict[tuple[Any, ...], ModelRecord] = {}
        self.counter = 0
        self.max_in_flight = 0
        self._by_model: dict[int, ModelRecord] = {}  # id(model) → record, for late events
        self._finished = 0
        self._history = History(directions=(optimize_mode,))
        self._queued: list[ModelRecord] = []  # ended, not in the History yet (finishing order)
        self._best: ModelRecord | None = None
        self._best_stale = False  # a finished model's metric changed: recomputed when asked
        self._history_stale = False  # ... and it was in the History already: rebuilt at the next sync

    # -- submissions and engine events ---------------------------------------------------------------
    def submit(self, proposal: Proposal, model: ExecutableModelSpace) -> ModelRecord:
        """Record a model about to be submitted (the next number)."""
        self.counter += 1
        record = ModelRecord(self.counter, dict(proposal.config), proposal.source, model,
                             reason=proposal.reason, rationale=proposal.rationale)
        self.records.append(record)
        self.running[id(model)] = record
        self._by_model[id(model)] = record
        self.max_in_flight = max(self.max_in_flight, len(self.running))
        return record

    def final_metric(self, model: Any, raw: Any) -> ModelRecord | None:
        """A model's final metric (``None``: not a model of this ledger)."""
        record = self._by_model.get(id(model))
        if record is None:
            return None
        record.value, record.metrics = parse_metric(raw)
        record.metric_unusable = record.value is None
        if record.value is not None and record.state == "failed" and record.finished_at is not None:
            record.state = "complete"  # the metric came after the end
        if record.state != "running":
            self._best_stale = True
            if not any(r is record for r in self._queued):
                self._history_stale = True
        return record

    def training_end(self, model: Any, trained: bool) -> ModelRecord | None:
        """A model's end (``None``: not a running model of this ledger)."""
        record = self.running.pop(id(model), None)
        if record is None:
            return None
        self._end(record, "complete" if trained and record.value is not None else "failed")
        return record

    def _end(self, record: ModelRecord, state: str) -> None:
        record.state = state
        record.finished_at = time.time()
        record.finish_order = self._finished
        self._finished += 1
        self._queued.append(record)
        self._consider_best(record)

    # -- what the methods see -----------------------------------------------------------------------
    def sync(self) -> History:
        """Append the models that ended since the last sync to the History and return it."""
        if self._history_stale:
            finished = sorted((r for r in self.records if r.state != "running"), key=lambda r: r.finish_order)
            self._history = History([r.observation() for r in finished], directions=(self.optimize_mode,))
            self._history_stale = False
            logger.debug("A final metric came after its model's end: the History was rebuilt once.")
        else:
            for record in self._queued:
                self._history.add(record.observation())
        self._queued.clear()
        return self._history

    @property
    def history(self) -> History:
        """The History as of the last :meth:`sync` (finishing order)."""
        return self._history

    def pending(self) -> list[Config]:
        """Configurations that are not in the History but must not be proposed again: running,
        re-run by NNI after a resume, or ended since the last sync."""
        return ([r.config for r in self.running.values()] + [r.config for r in self.orphans.values()]
                + [r.config for r in self._queued])

    def best(self) -> ModelRecord | None:
        """The best complete model so far (the latest on ties, as :meth:`History.best`)."""
        if self._best_stale:
            self._best, self._best_stale = None, False
            for record in sorted((r for r in self.records if r.state != "running"), key=lambda r: r.finish_order):
                self._consider_best(record)
        return self._best

    def _consider_best(self, record: ModelRecord) -> None:
        if record.state != "complete" or record.value is None or not math.isfinite(record.value):
            return
        sign = 1.0 if self.optimize_mode == "maximize" else -1.0
        if self._best is None or sign * record.value >= sign * (self._best.value or 0.0):
            self._best = record

    def counts(self) -> dict[str, int]:
        """Models submitted, complete, failed and running."""
        states = [r.state for r in self.records]
        return {"submitted": len(states), "complete": states.count("complete"),
                "failed": states.count("failed"), "running": states.count("running")}

    # -- checkpoints -----------------------------------------------------------------------------
    def to_state(self, space: SearchSpace) -> list[dict[str, Any]]:
        """The records as JSON-able dicts: finished ones in finishing order, then running ones."""
        return [
            {"number": r.number, "config": space.encode(r.config), "source": r.source, "state": r.state,
             "value": r.value, "metrics": {k: v for k, v in r.metrics.items() if _is_json(v)},
             "submitted_at": r.submitted_at, "finished_at": r.finished_at, "reason": r.reason,
             "rationale": r.rationale}
            for r in sorted(self.records, key=lambda r: (r.state == "running", r.finish_order))
        ]

    def restore(self, items: Iterable[Mapping[str, Any]], space: SearchSpace, *, counter: Any,
                max_in_flight: int) -> None:
        """Replace the records with :meth:`to_state`'s items (those that fit ``space``); the
        ones that were running become orphans. The History is built from them once."""
        records: list[ModelRecord] = []
        orphans: dict[tuple[Any, ...], ModelRecord] = {}
        for item in items:
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
        self.records, self.orphans = records, orphans
        self.running.clear()
        self._by_model.clear()
        self._queued.clear()
        self._finished = len(records) - len(orphans)
        self.counter = len(records) if counter is None else int(counter)
        self.max_in_flight = max_in_flight
        self._history_stale = self._best_stale = True  # built from the restored records at the next sync
        self.sync()

    # -- a resumed experiment: NNI's database --------------------------------------------------------
    def reconcile(self, trials: Sequence[tuple[Any, Any, Any]], nni_space: NNISpace, *,
                  first: bool) -> list[Proposal]:
        """Merge NNI's trials (``(status, parameters, final metric data)`` as NNI's manager lists
        them) into the records: orphans
        that ended get their result, models this ledger does not know are added (``source``
        ``"restored"``); with ``first``, orphans NNI does not know are dropped. Returns the
        models NNI cancelled before they were evaluated, to be submitted again."""
        space = nni_space.space
        resubmit: list[Proposal] = []
        seen: set[tuple[Any, ...]] = set()
        running = {space.key(r.config) for r in self.running.values()}
        finished = {space.key(r.config) for r in self.records if r.state != "running"}
        for trial_status, parameters, final in trials:
            try:
                config = nni_space.from_sample(nni.load(nni.dump(parameters)).sample)
            except Exception as exc:
                logger.debug("A trial in NNI's database does not fit this space: %s", exc)
                continue
            key = space.key(config)
            seen.add(key)
            if key in finished or key in running:
                continue
            status = str(trial_status)
            record = self.orphans.get(key)
            if record is None:
                self.counter += 1
                record = ModelRecord(self.counter, config, "restored", None)
                self.records.append(record)
                logger.info("[Model %4d] found in NNI's database: %s", record.number, space.format_config(config))
            if status not in ENDED_TRIAL_STATUSES:  # e.g. ADD_RESUMED, WAITING, RUNNING
                self.orphans[key] = record
                continue
            self.orphans.pop(key, None)
            if status in CANCELLED_TRIAL_STATUSES and not final:
                # NNI's manager cancels running trials when the experiment's process dies
                # (it sees the tuner disconnect): never evaluated, so submitted again.
                self.records.remove(record)
                resubmit.append(Proposal(record.config, record.source or "resubmitted"))
                logger.warning("[Model %4d] was cancelled by NNI when the experiment stopped, before it "
                               "was evaluated: it will be submitted again.", record.number)
                continue
            record.value, record.metrics = parse_metric(final_metric(final))
            self._end(record, "complete" if status == "SUCCEEDED" and record.value is not None else "failed")
            finished.add(key)
            logger.info("[Model %4d] %s after the resume: %s", record.number, record.state,
                        record.value if record.value is not None else status)
        if first:
            for key in [k for k in self.orphans if k not in seen]:
                record = self.orphans.pop(key)
                logger.warning("[Model %4d] was running when the state was saved and the engine does not know "
                               "it: dropped (it may be proposed again).", record.number)
                self.records.remove(record)
        return resubmit


ENDED_TRIAL_STATUSES = ("SUCCEEDED", "FAILED", "USER_CANCELED", "SYS_CANCELED", "EARLY_STOPPED")
"""NNI manager trial statuses after which a trial never runs again (a resumed experiment
re-runs the others, e.g. ``RUNNING`` or ``ADD_RESUMED``)."""

CANCELLED_TRIAL_STATUSES = ("USER_CANCELED", "SYS_CANCELED")


def final_metric(final_metric_data: Any) -> Any:
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


def parse_metric(raw: Any) -> tuple[float | None, dict[str, Any]]:
    """The objective (``default`` of a dict, or the number itself) and the other keys."""
    metrics: dict[str, Any] = {}
    value = raw
    if isinstance(raw, Mapping):
        value = raw.get("default")
        for key, item in raw.items():
            if key != "default":
                metrics[str(key)] = plain(item)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, metrics
    return float(value), metrics


def plain(value: Any) -> Any:
    """A numpy or torch scalar as a Python number; anything else unchanged."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError, RuntimeError):
            return value
    return value


def plain_data(value: Any) -> Any:
    """``value`` with str/int/float subclasses (NNI labels, numpy scalars) as the plain types,
    so the state pickles and loads anywhere (torch's weights-only loader included)."""
    if isinstance(value, Mapping):
        return {plain_data(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return plain(value)


def _is_json(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))
