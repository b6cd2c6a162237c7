"""What the strategy reads from NNI's execution engines: budget, idle workers, the experiment's
status and its trials, and an atomic checkpoint.

NNI wraps engines in middlewares, so each helper first finds the engine of the kind it knows
(:func:`unwrap`): ``SequentialExecutionEngine`` (in-process, one model at a time) or
``TrainingServiceExecutionEngine`` (the web-UI engine, whose ``nodejs_binding`` is the
running ``NasExperiment``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from nni.nas.execution import ExecutionEngine, SequentialExecutionEngine
from nni.nas.execution.training_service import TrainingServiceExecutionEngine

logger = logging.getLogger(__name__)


def unwrap(engine: Any, kind: type) -> Any:
    """The engine of type ``kind`` inside middlewares, or ``None``."""
    for _ in range(16):
        if isinstance(engine, kind):
            return engine
        engine = getattr(engine, "_engine", None)
        if engine is None:
            return None
    return None


def web_ui_engine(engine: Any) -> Any:
    """The ``TrainingServiceExecutionEngine`` inside ``engine``, or ``None``."""
    return unwrap(engine, TrainingServiceExecutionEngine)


def engine_budget(engine: ExecutionEngine) -> tuple[int | None, int, str]:
    """``(total, already used, name)`` of the engine's model budget; total ``None`` if unknown."""
    sequential = unwrap(engine, SequentialExecutionEngine)
    if sequential is not None:
        return sequential.max_model_count, int(sequential._model_count), "max_model_count"
    ts = web_ui_engine(engine)
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


def idle_workers(engine: ExecutionEngine) -> int:
    """How many models the engine can take now (at least 1)."""
    count = getattr(engine, "idle_worker_count", None)
    if callable(count):
        count = count()
    if not isinstance(count, int):
        ts = web_ui_engine(engine)
        count = getattr(ts, "_workers", 1) if ts is not None else 1
    return max(1, int(count)) if isinstance(count, int) else 1


def experiment_status(engine: ExecutionEngine) -> str | None:
    """The web-UI experiment's status (``"RUNNING"``, ``"DONE"``, ``"STOPPED"``, ...);
    ``None`` for other engines."""
    ts = web_ui_engine(engine)
    if ts is None:
        return None
    if getattr(ts, "_stopped", False):
        return "STOPPED"
    try:
        return str(ts.nodejs_binding.get_status())
    except Exception:
        return "ERROR"


def list_trials(engine: ExecutionEngine) -> list[tuple[Any, Any, Any]] | None:
    """The web-UI experiment's trials as ``(status, parameters, final metric data)``; ``None``
    for other engines or when NNI cannot list them (logged)."""
    ts = web_ui_engine(engine)
    if ts is None:
        return None
    try:
        return [(t.status, t.hyperParameters[0].parameters, t.finalMetricData)
                for t in ts.nodejs_binding.list_trial_jobs() if len(t.hyperParameters) == 1]
    except Exception as exc:
        logger.warning("Could not read the experiment's trials from NNI: %s", exc)
        return None


def save_checkpoint_atomically(experiment: Any) -> None:
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
