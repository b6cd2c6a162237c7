"""``llmnas demo``: a real search end to end (SEKI by default, in Optuna or NNI, on the
NAS-Bench-201 table or small CNNs trained on digits), printing a result table."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from . import console
from ._args import int_at_least, integer, llm_spec, progress, usage_error

__all__ = ["METHODS", "DemoResult", "Row", "add_demo_parser", "format_table", "run_demo", "run_nni", "run_optuna"]


@dataclass
class Row:
    """One evaluated architecture for the result table."""

    number: int
    config: dict[str, Any]
    score: float | None
    source: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoResult:
    host: str
    task: str
    rows: list[Row]
    summary: dict[str, Any]
    seconds: float
    optimum: dict[str, float] = field(default_factory=dict)


def _compact(config: dict[str, Any]) -> str:
    return " ".join(f"{k.split('/')[-1]}={v}" for k, v in config.items())


def format_table(result: DemoResult, top: int = 10) -> str:
    """A plain-text table of the best architectures and a summary of the search."""
    ranked = sorted((r for r in result.rows if r.score is not None), key=lambda r: -r.score)
    extra = [k for k in ("test_acc", "params_M", "flops_M", "latency_ms", "params") if any(k in r.metrics for r in ranked)]
    header = ["rank", "#", "source", "score"] + extra + ["architecture"]
    lines = []
    for i, row in enumerate(ranked[:top], 1):
        cells = [str(i), str(row.number), row.source or "-", f"{row.score:.2f}"]
        cells += [f"{row.metrics[k]:.3g}" if isinstance(row.metrics.get(k), (int, float)) else "-" for k in extra]
        cells.append(_compact(row.config))
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) if lines else len(h) for i, h in enumerate(header)]
    method = result.summary.get("method", "?")
    out = [f"Top {min(top, len(ranked))} of {len(result.rows)} architectures ({result.task}, {result.host}, {method}):"]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in lines]
    s = result.summary
    pipeline = s.get("pipeline", {})
    usage = s.get("llm_usage", {})
    distinct = len({json.dumps(r.config, sort_keys=True, default=str) for r in result.rows})
    out.append("")
    out.append(f"LLM: {s.get('llm')}")
    out.append(
        f"Evaluated {len(result.rows)} architectures ({distinct} distinct) in {result.seconds:.0f} s; "
        f"LLM calls {pipeline.get('llm_calls', 0)} "
        f"({s.get('llm_calls_per_proposal', 0)} per architecture), tokens "
        f"{usage.get('prompt_tokens', 0)} in / {usage.get('completion_tokens', 0)} out; "
        f"from the LLM {pipeline.get('accepted_llm', 0) + pipeline.get('accepted_reask', 0)}, "
        f"fallback {pipeline.get('fallback_proposals', 0)}"
        + (f" ({pipeline['stand_in_proposals']} stand-ins in the LLM's slots)" if pipeline.get("stand_in_proposals") else "")
        + f" {pipeline.get('fallback_reasons', {}) or ''}"
    )
    if result.optimum and ranked:
        best = ranked[0]
        parts = [f"best found: valid {best.score:.2f}"]
        if "test_acc" in best.metrics:
            parts.append(f"test {best.metrics['test_acc']:.2f}")
        parts.append("table optimum: " + ", ".join(f"{k} {v:.2f}" for k, v in result.optimum.items()))
        out.append("; ".join(parts))
    return "\n".join(out)


METHODS = {"seki": "SEKI", "lapt": "LAPT", "collm-nas": "CoLLMNAS", "gpt-ea": "GPTEA"}
"""``--method`` → the class name prefix of the host classes."""


# -- tasks ---------------------------------------------------------------------------------
def _nb201_table(dataset: str, benchmarks: str | None) -> Any:
    """The NAS-Bench-201 table; ``FileNotFoundError`` / ``ValueError`` when it cannot be read."""
    from ..benchmarks.tables import NasBench201Table

    return NasBench201Table(dataset, path=benchmarks)


def run_optuna(args: argparse.Namespace, table: Any | None) -> DemoResult:
    import optuna

    import optuna_llm_samplers
    from optuna_llm_samplers._sampler import CLAIM_KEY

    from ..benchmarks.digits import DigitsCNN

    if table is not None:
        objective: Callable[[Any], float] = table.optuna_objective(metric="valid_acc")
        task = f"NAS-Bench-201 {table.dataset}"
    else:
        objective = DigitsCNN(epochs=args.epochs).optuna_objective()
        task = "CNNs trained on scikit-learn digits"
    sampler = getattr(optuna_llm_samplers, METHODS[args.method] + "Sampler")(
        llm=args.llm, seed=args.seed, budget=args.budget)
    study = optuna.create_study(direction="maximize", sampler=sampler, study_name="llmnas-demo")
    bar = progress(args.budget, f"{sampler.method.name} / Optuna / {task}")
    start = time.perf_counter()
    callbacks = [lambda s, t: bar.update(1)] if bar is not None else []
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar replaces Optuna's per-trial lines
    try:
        study.optimize(objective, n_trials=args.budget, callbacks=callbacks)
    finally:
        optuna.logging.set_verbosity(verbosity)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    rows = []
    for t in study.trials:
        metrics = {k: v for k, v in t.user_attrs.items() if isinstance(v, (int, float))}
        source = str((t.system_attrs.get(CLAIM_KEY) or {}).get("source", "random"))
        rows.append(Row(t.number, dict(t.params), t.value, source, metrics))
    optimum = _optimum(table)
    return DemoResult("Optuna", task, rows, sampler.summary(), seconds, optimum)


def run_nni(args: argparse.Namespace, table: Any | None) -> DemoResult:
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

    import nni_llm_strategies

    if table is None:
        raise SystemExit("--host nni needs the NAS-Bench-201 table (see --benchmarks); "
                         "without it, run the demo with --host optuna.")
    from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space

    strategy = getattr(nni_llm_strategies, METHODS[args.method] + "Strategy")(
        llm=args.llm, seed=args.seed, budget=args.budget)
    evaluator = nas_bench_201_evaluator(table.dataset, path=table.file, metric="valid_acc")
    config = NasExperimentConfig("sequential", "simplified")
    config.max_trial_number = args.budget
    experiment = NasExperiment(nas_bench_201_space(table.dataset), evaluator, strategy, config)
    start = time.perf_counter()
    experiment.run()
    seconds = time.perf_counter() - start
    rows = []
    for record in strategy.records():
        rows.append(Row(record["number"], record["config"], record["score"], record["source"], record["metrics"]))
    return DemoResult("NNI", f"NAS-Bench-201 {table.dataset}", rows, strategy.summary(), seconds, _optimum(table))


def _optimum(table: Any | None) -> dict[str, float]:
    if table is None:
        return {}
    return {"valid": float(table.optimum("valid_acc").value), "test": float(table.optimum("test_acc").value)}


@contextlib.contextmanager
def demo_logging(verbose: bool) -> Iterator[None]:
    """For the command's duration: a stderr handler on the ``llmnas`` logger (WARNING and up, the
    LLM layer's INFO lines too; everything at INFO with -v), redacting secrets, the only one its
    records reach. The root logger and other libraries' loggers are left alone."""
    from ..llm.base import RedactingFilter

    package, llm_layer = logging.getLogger("llmnas"), logging.getLogger("llmnas.llm")
    levels, propagate = (package.level, llm_layer.level), package.propagate
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    package.addHandler(handler)
    package.setLevel(logging.INFO if verbose else logging.WARNING)
    llm_layer.setLevel(logging.INFO)
    package.propagate = False  # a host that configures the root logger (NNI does) would print it twice
    try:
        yield
    finally:
        package.removeHandler(handler)
        handler.close()
        package.setLevel(levels[0])
        llm_layer.setLevel(levels[1])
        package.propagate = propagate


def _check_installed(args: argparse.Namespace) -> None:
    """A usage error naming the extra to install when the chosen host or task lacks a package."""
    import importlib.util

    needs = [(args.host, f"llmnas[{args.host}]")]
    if args.task == "digits":
        needs += [("torch", "torch"), ("sklearn", "scikit-learn")]
    for module, package in needs:
        if importlib.util.find_spec(module) is None:
            usage_error("llmnas demo", f"--host {args.host} --task {args.task} needs the package {module!r}: "
                                       f"pip install \"{package}\"")


def add_demo_parser(sub: Any) -> None:
    """The ``demo`` subcommand's arguments."""
    demo = sub.add_parser("demo", help="run a real search (SEKI by default) and print the result table")
    demo.add_argument("--host", choices=["optuna", "nni"], default="optuna")
    demo.add_argument("--method", choices=sorted(METHODS), default="seki")
    demo.add_argument("--task", choices=["nb201", "digits"], default="nb201",
                      help="nb201: look-ups in the NAS-Bench-201 table (default); digits: small CNNs trained "
                           "on CPU on scikit-learn's digits (needs torch and scikit-learn)")
    demo.add_argument("--budget", type=int_at_least(1), default=20, help="architectures to evaluate (default 20)")
    demo.add_argument("--dataset", choices=["cifar10", "cifar100", "imagenet16"], default="cifar10")
    demo.add_argument("--benchmarks", default=None,
                      help="folder or file of the NAS-Bench-201 table (default: LLMNAS_BENCHMARKS_DIR, the "
                           "project's shared/benchmarks, else the copy shipped in the package)")
    demo.add_argument("--llm", type=llm_spec, default=None,
                      help="'local', 'local:<name|file.gguf>', 'openai:<model>' or an http(s):// base URL; "
                           "default: the environment, else local")
    demo.add_argument("--seed", type=integer, default=0)
    demo.add_argument("--epochs", type=int_at_least(1), default=4, help="training epochs per CNN (--task digits)")
    demo.add_argument("--json", default=None, help="also write the result (rows and summary) to this file")
    demo.add_argument("-v", "--verbose", action="store_true", help="log every batch and LLM exchange")


def run_demo(args: argparse.Namespace) -> int:
    """``llmnas demo``: the search, then the result table on stdout (and ``--json``)."""
    table = None
    if args.task == "nb201":
        try:
            table = _nb201_table(args.dataset, args.benchmarks)
        except (FileNotFoundError, ValueError) as exc:
            usage_error("llmnas demo", f"no usable NAS-Bench-201 table: {exc}")
    elif args.host == "nni":
        usage_error("llmnas demo", "--host nni runs NAS-Bench-201 only: expected --task nb201 or --host optuna")
    _check_installed(args)
    from ..llm.protocol import LLMError

    with demo_logging(args.verbose):
        try:
            result = run_nni(args, table) if args.host == "nni" else run_optuna(args, table)
        except LLMError as exc:
            if isinstance(exc, ValueError):  # the LLM cannot be set up as given: a usage error
                usage_error("llmnas demo", str(exc))
            console.message(f"llmnas demo: LLM error: {' '.join(str(exc).split())}")
            return 1
    console.result(format_table(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"host": result.host, "task": result.task, "seconds": result.seconds,
                       "summary": result.summary, "optimum": result.optimum,
                       "rows": [r.__dict__ for r in result.rows]}, fh, indent=2, default=str)
    return 0
