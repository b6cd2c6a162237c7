"""NAS-Bench-201 as an NNI evaluator: NNI's hub space ``NasBench201`` scored by table look-up.

The search runs in NNI exactly as a real one would (any strategy, the sequential engine or the
web-UI engine with a subprocess per trial), but a "training" is a look-up in
:class:`llmnas.benchmarks.NasBench201Table`, so a whole search takes seconds.

How the evaluator finds the architecture: NNI calls the evaluator's function with the
*frozen* ``torch.nn.Module`` (``ExecutableModelSpace.executable_model()``), which has no
``sample`` attribute. The function reads the op chosen on each edge from the module itself
(the frozen ``NasBench201Cell`` holds the chosen op modules, which is exact in-process and in a
trial subprocess alike); for a model that does not have the hub layout it falls back to the
sample of the current NNI trial (``nni.get_current_parameter().sample``).

Example:
    >>> from nni.nas.execution import SequentialExecutionEngine
    >>> from nni.nas.strategy import Random
    >>> engine = SequentialExecutionEngine(max_model_count=5)
    >>> _ = Random(seed=0)(nas_bench_201_model_space("cifar10"), engine)
    >>> best = max(engine.list_models(), key=lambda m: m.metrics.final)
    >>> best.metrics.final == NasBench201Table("cifar10").objective(best.sample, "valid_acc")
    True
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import nni
from nni.nas.evaluator import FunctionalEvaluator

from llmnas.benchmarks.tables import NB201_EDGES, NB201_LATENCY_COLUMNS, NB201_OPS, NasBench201Table

logger = logging.getLogger(__name__)

REPORTED_METRICS: tuple[str, ...] = (
    "valid_acc", "test_acc", "test_acc_12ep", "params_M", "flops_M", "latency_ms",
)
"""Metrics reported next to ``"default"`` in every final result (Python floats), plus ``index``."""

_LIVE_STATUSES = ("frozen", "training", "retrying")  # NNI ModelStatus values (str enum)
_NUM_LABELS = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}


def nas_bench_201_space(dataset: str = "cifar10") -> Any:
    """NNI's hub space ``NasBench201`` (6 labels ``cell/0_1`` … ``cell/2_3``), its classifier
    sized for ``dataset`` (10, 100 or 120 classes). Building it takes about 0.3 s on a CPU."""
    from nni.nas.hub.pytorch import NasBench201

    key = NasBench201Table.normalize_dataset(dataset)
    return NasBench201(num_labels=_NUM_LABELS[key])


def nas_bench_201_evaluator(
    dataset: str = "cifar10",
    *,
    path: str | os.PathLike[str] | None = None,
    metric: str = "valid_acc",
    latency_column: str = NB201_LATENCY_COLUMNS[0],
    negate: bool = False,
) -> FunctionalEvaluator:
    """An NNI ``FunctionalEvaluator`` that scores a frozen ``NasBench201`` model by look-up.

    Each model calls ``nni.report_final_result`` once with ``{"default": <metric>, "valid_acc",
    "test_acc", "test_acc_12ep", "params_M", "flops_M", "latency_ms": float, "index": int}``.
    The table is located now (see :func:`llmnas.benchmarks.find_benchmark_file`) and its
    absolute path travels with the evaluator, so trial subprocesses of NNI's web-UI engine
    find it without any environment. NNI 3.0's built-in strategies maximize ``"default"``: to
    minimize ``params_M``, ``flops_M`` or a latency with them, pass ``negate=True``.

    Example:
        >>> evaluator = nas_bench_201_evaluator("cifar100", metric="valid_acc")
        >>> evaluator.arguments["dataset"], evaluator.arguments["metric"]
        ('cifar100', 'valid_acc')

    Args:
        dataset: ``"cifar10"``, ``"cifar100"`` or ``"imagenet16"``.
        path: the table file or a directory holding ``nb201.csv.gz``.
        metric: the metric reported as ``"default"`` (what the strategy optimizes).
        latency_column: the device column reported as ``latency_ms``.
        negate: report ``-metric`` as ``"default"`` (the other keys stay as in the table).
    """
    table = NasBench201Table(dataset, path=path, latency_column=latency_column)
    table.direction(metric)  # raises ValueError listing the metrics
    return FunctionalEvaluator(
        evaluate_nas_bench_201,
        dataset=table.dataset,
        path=str(table.file),
        metric=metric,
        latency_column=latency_column,
        negate=bool(negate),
    )


def nas_bench_201_model_space(dataset: str = "cifar10", **evaluator_options: Any) -> Any:
    """NNI's ``SimplifiedModelSpace`` of :func:`nas_bench_201_space` with
    :func:`nas_bench_201_evaluator` (``evaluator_options`` go to it): what a strategy searches.

    Example:
        >>> from nni.nas.execution import SequentialExecutionEngine
        >>> from nni.nas.strategy import Random
        >>> engine = SequentialExecutionEngine(max_model_count=3)
        >>> _ = Random(seed=0)(nas_bench_201_model_space("cifar100", metric="test_acc"), engine)
        >>> len(engine.list_models())
        3
    """
    from nni.nas.space import SimplifiedModelSpace

    evaluator = nas_bench_201_evaluator(dataset, **evaluator_options)
    return SimplifiedModelSpace.from_model(nas_bench_201_space(dataset), evaluator)


def search_nas_bench_201(strategy: Any, models: int = 12, dataset: str = "cifar10") -> Any:
    """Run ``strategy`` in process on :func:`nas_bench_201_model_space` (look-ups in place of
    training) with NNI's ``SequentialExecutionEngine`` for ``models`` models; returns the
    strategy. The quickest way to try a strategy, and the runnable examples' setting.

    Example:
        >>> from nni.nas.strategy import Random
        >>> best = next(search_nas_bench_201(Random(seed=0), models=3).list_models(limit=1))
        >>> best.metrics.final > 0
        True
    """
    from nni.nas.execution import SequentialExecutionEngine

    strategy(nas_bench_201_model_space(dataset), SequentialExecutionEngine(max_model_count=models))
    return strategy


def evaluate_nas_bench_201(
    model: Any,
    dataset: str = "cifar10",
    path: str | None = None,
    metric: str = "valid_acc",
    latency_column: str = NB201_LATENCY_COLUMNS[0],
    negate: bool = False,
) -> dict[str, Any]:
    """The evaluator's function (module level, so NNI can serialize it by name).

    Finds the cell of ``model``, reports its metrics with ``nni.report_final_result`` and
    returns them (the table's full record, for direct calls).
    """
    try:
        table = NasBench201Table(dataset, path=path, latency_column=latency_column)
    except FileNotFoundError:
        if path is None:
            raise
        # A trial on another machine (remote training service): look where it usually is.
        logger.warning("NAS-Bench-201 table not at %s on this machine; searching for it", path)
        table = NasBench201Table(dataset, latency_column=latency_column)
    config = sample_of_model(model)
    metrics = table.query(config)
    value = float(metrics[metric])
    result: dict[str, Any] = {"default": -value if negate else value}
    result.update({name: float(metrics[name]) for name in REPORTED_METRICS})
    result["index"] = int(metrics["index"])
    logger.debug("NAS-Bench-201 %s cell %d (%s): %s=%.4f", dataset, result["index"],
                 metrics["ops"], metric, result["default"])
    nni.report_final_result(result)
    return metrics


def sample_of_model(model: Any) -> dict[str, str]:
    """The NNI sample ``{"cell/0_1": op, …}`` of a frozen ``NasBench201`` model.

    Read from the chosen op modules of the model's cells. Only a model without any
    ``NasBench201Cell`` (another model format) is looked up in the running NNI trial's sample,
    and only while that trial is live: NNI keeps the last model as the "current parameter"
    after a sequential run, so a finished one would be stale. Raises ``ValueError`` otherwise.
    """
    sample = _sample_from_modules(model)
    if sample is not None:
        return sample
    current = nni.get_current_parameter()
    status = getattr(current, "status", None)
    trial_sample = getattr(current, "sample", None)
    if (
        status in _LIVE_STATUSES
        and isinstance(trial_sample, Mapping)
        and all(edge in trial_sample for edge in NB201_EDGES)
    ):
        return {edge: trial_sample[edge] for edge in NB201_EDGES}
    raise ValueError(
        f"cannot tell which NAS-Bench-201 cell this {type(model).__name__} is: it has no "
        f"NasBench201Cell and no running NNI trial has a sample with the labels "
        f"{list(NB201_EDGES)}. Pass a model frozen from nas_bench_201_space()."
    )


def _op_name(module: Any) -> str:
    from torch import nn
    from nni.nas.hub.pytorch.nasbench201 import Pooling, ReLUConvBN, Zero

    if isinstance(module, Zero):
        return "none"
    if isinstance(module, nn.Identity):
        return "skip_connect"
    if isinstance(module, Pooling) and isinstance(getattr(module, "op", None), nn.AvgPool2d):
        return "avg_pool_3x3"
    if isinstance(module, ReLUConvBN):
        kernels = {m.kernel_size for m in module.modules() if isinstance(m, nn.Conv2d)}
        if kernels == {(1, 1)}:
            return "conv_1x1"
        if kernels == {(3, 3)}:
            return "conv_3x3"
    raise ValueError(
        f"a NasBench201Cell edge holds {type(module).__name__}, not one of the ops "
        f"{list(NB201_OPS)} (is the model frozen?)"
    )


def _sample_from_modules(model: Any) -> dict[str, str] | None:
    """The sample read from the model's ``NasBench201Cell``s; ``None`` when it has none."""
    from nni.nas.hub.pytorch.modules import NasBench201Cell

    modules = getattr(model, "modules", None)
    cells = [m for m in modules() if isinstance(m, NasBench201Cell)] if callable(modules) else []
    if not cells:
        return None
    samples = []
    for cell in cells:
        if [len(node) for node in cell.layers] != [1, 2, 3]:
            raise ValueError("a NasBench201Cell without the 4-node layout")
        # layers[j - 1][i] is edge i -> j; this flattens to 0_1, 0_2, 1_2, 0_3, 1_3, 2_3.
        ops = [_op_name(op) for node in cell.layers for op in node]
        samples.append(dict(zip(NB201_EDGES, ops)))
    if any(s != samples[0] for s in samples[1:]):
        raise ValueError("the model's NasBench201Cells hold different ops; NAS-Bench-201 shares one cell")
    return samples[0]


__all__ = [
    "search_nas_bench_201",
    "REPORTED_METRICS", "evaluate_nas_bench_201", "nas_bench_201_evaluator",
    "nas_bench_201_model_space", "nas_bench_201_space", "sample_of_model",
]
