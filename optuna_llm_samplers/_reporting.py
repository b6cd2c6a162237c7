"""The sampler's reports: provenance on trials and studies, warnings, counters, the summary.

- Trials: :data:`SOURCE_ATTR` (where the parameters came from), :data:`REASON_ATTR` (why a
  fallback stood in), :data:`RATIONALE_ATTR` (the LLM's reasoning), as user attributes (shown
  by optuna-dashboard and ``study.trials_dataframe()``).
- Studies: the method and the LLM in use (``llmnas_method``, ``llmnas_llm``,
  ``llmnas_llm_model``, ``llmnas_llm_endpoint``) and this worker's LLM calls and tokens so far
  (``llmnas_llm_calls``, ``llmnas_llm_tokens``), as user attributes.
- :meth:`ReportingMixin.summary`: the searcher's summary plus the sampler's own counters
  (:data:`COUNTERS`) under ``"sampler"``; :meth:`ReportingMixin.summary_line` in one line.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import TYPE_CHECKING, Any, Sequence

from optuna.trial import TrialState as OptunaTrialState

from llmnas.llm.protocol import llm_endpoint
from llmnas.proposals import LLM_SOURCES, provenance

from ._knowledge import StudyKnowledge

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

    from llmnas.methods.base import Method
    from llmnas.searcher import Searcher

__all__ = ["COUNTERS", "RATIONALE_ATTR", "REASON_ATTR", "SOURCE_ATTR", "ReportingMixin"]

logger = logging.getLogger("optuna_llm_samplers._sampler")

SOURCE_ATTR = "llmnas_source"
"""Trial user attribute: where the trial's parameters came from, a label of
:data:`llmnas.proposals.SOURCE_LABELS` (``llm``, ``llm-reask``, ``operator:<name>``, ``screen``,
``fallback``, ``fixed``, ``random``, ``exhausted``, ``none``); shown by optuna-dashboard and as
``user_attrs_llmnas_source`` in ``study.trials_dataframe()``."""
REASON_ATTR = "llmnas_reason"
"""Trial user attribute: why a fallback stood in for the LLM (only for ``fallback`` trials)."""
RATIONALE_ATTR = "llmnas_rationale"
"""Trial user attribute: the LLM's reasoning behind the proposal (e.g. SEKI's strategy), at most
:data:`llmnas.proposals.RATIONALE_CHARS` characters."""

COUNTERS = (
    "trials_proposed", "trials_finished", "trials_failed", "independent_from_proposal", "independent_fallbacks",
    "host_fallbacks", "claim_clashes", "exhausted_trials", "errors",
)
"""The sampler's own counters, under ``summary()["sampler"]``."""


class ReportingMixin:
    """Provenance, warnings and counters of :class:`~optuna_llm_samplers.LLMSampler`."""

    _searcher: Searcher
    _state_lock: threading.Lock
    _counts: dict[str, int]
    _reasons: dict[str, dict[str, int]]
    _warned: set[str]
    _llm_recorded: set[tuple[int, int]]
    _usage_written: dict[tuple[int, int], tuple[int, int]]

    @property
    def method(self) -> Method:
        """The method this sampler drives."""
        return self._searcher.method

    def _record_source(self, study: Study, trial: FrozenTrial, source: str, reason: str = "",
                       rationale: str = "") -> None:
        """Write the trial's provenance as user attributes (see :data:`SOURCE_ATTR`)."""
        label, why = provenance(source, reason)
        storage = study._storage
        try:
            storage.set_trial_user_attr(trial._trial_id, SOURCE_ATTR, label)
            if why:
                storage.set_trial_user_attr(trial._trial_id, REASON_ATTR, why)
            if rationale and (label in LLM_SOURCES or label == "screen" or label.startswith("operator:")):
                storage.set_trial_user_attr(trial._trial_id, RATIONALE_ATTR, rationale)
        except Exception:  # provenance is for people: never let it cost the trial
            logger.warning("Trial %d: could not record its source (%s)", trial.number, label, exc_info=True)
        self._record_llm(study)

    def _record_llm(self, study: Study) -> None:
        """The LLM in use as study user attributes, once per study and process: ``llmnas_llm``
        (the description, no credentials), ``llmnas_llm_model``, ``llmnas_llm_endpoint`` (host)."""
        llm = self._searcher.llm_in_use()
        if llm is None and self._searcher.llm_description() == "not used yet":
            return  # recorded once the method has asked the LLM
        key = (id(study._storage), study._study_id)
        with self._state_lock:
            if key in self._llm_recorded:
                return
            self._llm_recorded.add(key)
        attrs = {"llmnas_method": self.method.name, "llmnas_llm": self._searcher.llm_description()}
        if llm is not None:
            attrs["llmnas_llm_model"] = str(getattr(llm, "model", "") or "")
            endpoint = llm_endpoint(llm)
            if endpoint:
                attrs["llmnas_llm_endpoint"] = endpoint
        try:
            for name, value in attrs.items():
                study._storage.set_study_user_attr(study._study_id, name, value)
        except Exception:
            logger.warning("Could not record the LLM in the study's user attributes", exc_info=True)

    def _after_trial_attrs(self, study: Study, trial: FrozenTrial) -> None:
        """A trial with no source yet (it suggested nothing) gets ``none``; the study's LLM
        calls and tokens so far (this worker's) are updated when they changed."""
        if SOURCE_ATTR not in trial.user_attrs:  # the sampler was never asked (no parameter, or all fixed)
            fixed = trial.system_attrs.get("fixed_params") or {}
            source = "none" if not trial.params else "fixed" if set(trial.params) <= set(fixed) else "random"
            self._record_source(study, trial, source)
        usage = self._searcher.summary()
        calls = int(usage["pipeline"]["llm_calls"])
        tokens = int(usage["llm_usage"].get("prompt_tokens", 0)) + int(usage["llm_usage"].get("completion_tokens", 0))
        key = (id(study._storage), study._study_id)
        with self._state_lock:
            if self._usage_written.get(key) == (calls, tokens):
                return
            self._usage_written[key] = (calls, tokens)
        try:
            study._storage.set_study_user_attr(study._study_id, "llmnas_llm_calls", calls)
            study._storage.set_study_user_attr(study._study_id, "llmnas_llm_tokens", tokens)
            study._storage.set_study_user_attr(study._study_id, "llmnas_llm", self._searcher.llm_description())
        except Exception:
            logger.warning("Could not record LLM usage in the study's user attributes", exc_info=True)

    def _warn_about(
        self, trial: FrozenTrial, state: OptunaTrialState, values: Sequence[float] | None
    ) -> None:
        """Warn once per sampler about a trial that suggested nothing, and about a non-finite
        objective value that Optuna stores as COMPLETE (the method counts it as failed)."""
        if not trial.params and state != OptunaTrialState.FAIL:
            self._warn_once(
                "no-parameters", "Trial %d suggested no parameters: there is nothing for %s to choose in it "
                "(the sampler proposes values for suggest_* calls only; trials without any run as they are).",
                trial.number, self.method.name)
        if state != OptunaTrialState.FAIL and values is not None and not all(math.isfinite(v) for v in values):
            self._warn_once(
                "non-finite", "Trial %d returned %s: Optuna keeps it as COMPLETE (and may rank it best), but %s "
                "counts a non-finite value as a failed trial: no score to learn from, never proposed again.",
                trial.number, list(values), self.method.name)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        with self._state_lock:
            warned = getattr(self, "_warned", None)
            if warned is None:
                warned = self._warned = set()
            first = key not in warned
            warned.add(key)
        logger.log(logging.WARNING if first else logging.DEBUG, message, *args)

    def summary(self) -> dict[str, Any]:
        """What the search did: the searcher's summary (method settings, LLM, calls, tokens,
        pipeline counts and fallbacks) plus this sampler's own counts under ``"sampler"``:
        trials proposed, finished and failed (``trials_failed``: FAIL, or a NaN/inf value that
        Optuna keeps as COMPLETE), parameters taken from the proposal or sampled at random
        (with reasons), configurations the host had to find itself, claim clashes, trials
        that re-evaluated an exhausted space, and errors."""
        summary = self._searcher.summary()
        with self._state_lock:
            sampler = dict(self._counts)
            sampler["independent_fallback_reasons"] = dict(self._reasons["independent"])
            sampler["host_fallback_reasons"] = dict(self._reasons["host"])
        summary["sampler"] = sampler
        return summary

    def summary_line(self) -> str:
        """:meth:`summary` in one line, as logged every ``log_every`` trials."""
        own = self.summary()["sampler"]
        return self._searcher.summary_line(
            f"sampler: {own['trials_finished']} trials finished ({own.get('trials_failed', 0)} failed or without "
            f"a finite value)", host_fallbacks=own["host_fallbacks"],
            more=f"{own['independent_fallbacks']} parameters sampled at random; {own['claim_clashes']} claim clashes",
        )

    def knowledge(self, study: Study) -> StudyKnowledge:
        """The knowledge the method shares through ``study`` (export it with ``.export(path)``;
        ``.load(path)`` continues that study elsewhere, ``.load(path, transfer=True)`` gives a
        new study its knowledge as prior knowledge, without the trust rule's record)."""
        return StudyKnowledge.of(study)

    def _count(self, name: str, reason: str | None = None, kind: str | None = None) -> None:
        with self._state_lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            if reason is not None and kind is not None:
                reasons = self._reasons[kind]
                reasons[reason] = reasons.get(reason, 0) + 1

