"""The ``llmnas`` command: a real search end to end, printing a result table.

``llmnas demo`` runs SEKI (or ``--method lapt|collm-nas|gpt-ea``) in Optuna (or NNI with ``--host nni``) on NAS-Bench-201: the
table given by ``--benchmarks DIR`` or ``LLMNAS_BENCHMARKS_DIR``, else the one beside the
project, else the copy shipped in the package. ``--task digits`` runs another real search
instead: small CNNs trained on CPU on the handwritten digits that ship with scikit-learn (it
needs torch and scikit-learn); a missing table is an error, never a switch of task. The LLM is the environment's
(``OPENAI_BASE_URL``/``OPENAI_API_KEY``/``LLMNAS_MODEL``) or, with none set, the embedded
local model: no key, no network.

``llmnas compare`` runs the comparison of :mod:`llmnas.benchmarks.runner` (methods, their
LLM-off ablations and the hosts' built-ins over seeds, resumable) and writes its report.

Every bad argument is one line on stderr naming what was expected, exit status 2 (no
traceback). The command sets up its own log handlers (on the ``llmnas`` logger for ``demo``, for
the command's duration), each with secret redaction.

This module is the application on top of the library; it is the one module of ``llmnas``
that imports a host (lazily, inside the function that runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Sequence

from . import __version__

logger = logging.getLogger(__name__)


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


def _progress(total: int, desc: str) -> Any:
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="arch", file=sys.stderr, dynamic_ncols=True)
    except ImportError:  # pragma: no cover
        return None


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
        f"fallback {pipeline.get('fallback_proposals', 0)} {pipeline.get('fallback_reasons', {}) or ''}"
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
    from .benchmarks.tables import NasBench201Table

    return NasBench201Table(dataset, path=benchmarks)


def run_optuna(args: argparse.Namespace, table: Any | None) -> DemoResult:
    import optuna

    import optuna_llm_samplers
    from optuna_llm_samplers._sampler import CLAIM_KEY

    from .benchmarks.digits import DigitsCNN

    if table is not None:
        objective: Callable[[Any], float] = table.optuna_objective(metric="valid_acc")
        task = f"NAS-Bench-201 {table.dataset}"
    else:
        objective = DigitsCNN(epochs=args.epochs).optuna_objective()
        task = "CNNs trained on scikit-learn digits"
    sampler = getattr(optuna_llm_samplers, METHODS[args.method] + "Sampler")(
        llm=args.llm, seed=args.seed, budget=args.budget)
    study = optuna.create_study(direction="maximize", sampler=sampler, study_name="llmnas-demo")
    bar = _progress(args.budget, f"{sampler.method.name} / Optuna / {task}")
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


# -- entry point ---------------------------------------------------------------------------
def usage_error(prog: str, message: str) -> NoReturn:
    """Exit with status 2 after one line on stderr: ``<prog>: error: <message> (see '<prog> --help')``."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"{prog}: error: {text} (see '{prog} --help')\n")
    raise SystemExit(2)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (``<prog>: error: <what>``,
    naming what was expected and where to look), exit status 2, no usage block."""

    def error(self, message: str) -> NoReturn:
        usage_error(self.prog, message)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``, else an error naming what was expected."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _integer(text: str) -> int:
    """An argparse type: any integer, else an error naming what was expected."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _llm_spec(text: str) -> str:
    """An argparse type: a well-formed ``--llm`` spec (no network: checked by its form)."""
    from .llm.resolve import check_llm_spec

    try:
        check_llm_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _benchmark_names(text: str) -> list[str]:
    """An argparse type: comma-separated registered benchmark names, each one known."""
    from .benchmarks.registry import benchmark_names

    names = _csv(text)
    known = benchmark_names()
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        what = f"unknown benchmark {', '.join(map(repr, unknown))}" if unknown else "no benchmark given"
        raise argparse.ArgumentTypeError(f"{what}; expected comma-separated names from: {', '.join(known)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llmnas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,compare}")
    demo = sub.add_parser("demo", help="run a real search (SEKI by default) and print the result table")
    demo.add_argument("--host", choices=["optuna", "nni"], default="optuna")
    demo.add_argument("--method", choices=sorted(METHODS), default="seki")
    demo.add_argument("--task", choices=["nb201", "digits"], default="nb201",
                      help="nb201: look-ups in the NAS-Bench-201 table (default); digits: small CNNs trained "
                           "on CPU on scikit-learn's digits (needs torch and scikit-learn)")
    demo.add_argument("--budget", type=_int_at_least(1), default=20, help="architectures to evaluate (default 20)")
    demo.add_argument("--dataset", choices=["cifar10", "cifar100", "imagenet16"], default="cifar10")
    demo.add_argument("--benchmarks", default=None,
                      help="folder or file of the NAS-Bench-201 table (default: LLMNAS_BENCHMARKS_DIR, the "
                           "project's shared/benchmarks, else the copy shipped in the package)")
    demo.add_argument("--llm", type=_llm_spec, default=None,
                      help="'local', 'local:<name|file.gguf>', 'openai:<model>' or an http(s):// base URL; "
                           "default: the environment, else local")
    demo.add_argument("--seed", type=_integer, default=0)
    demo.add_argument("--epochs", type=_int_at_least(1), default=4, help="training epochs per CNN (--task digits)")
    demo.add_argument("--json", default=None, help="also write the result (rows and summary) to this file")
    demo.add_argument("-v", "--verbose", action="store_true", help="log every batch and LLM exchange")
    _add_compare_parser(sub)
    return parser


@contextlib.contextmanager
def _demo_logging(verbose: bool) -> Iterator[None]:
    """For the command's duration: a stderr handler on the ``llmnas`` logger (WARNING and up, the
    LLM layer's INFO lines too; everything at INFO with -v), redacting secrets, the only one its
    records reach. The root logger and other libraries' loggers are left alone."""
    from .llm.base import RedactingFilter

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


def main(argv: Sequence[str] | None = None) -> int:
    """The ``llmnas`` command; returns the exit status (2 for a bad argument)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "compare":
        return run_compare(args)
    table = None
    if args.task == "nb201":
        try:
            table = _nb201_table(args.dataset, args.benchmarks)
        except (FileNotFoundError, ValueError) as exc:
            usage_error("llmnas demo", f"no usable NAS-Bench-201 table: {exc}")
    elif args.host == "nni":
        usage_error("llmnas demo", "--host nni runs NAS-Bench-201 only: expected --task nb201 or --host optuna")
    _check_installed(args)
    from .llm.protocol import LLMError

    with _demo_logging(args.verbose):
        try:
            result = run_nni(args, table) if args.host == "nni" else run_optuna(args, table)
        except LLMError as exc:
            if isinstance(exc, ValueError):  # the LLM cannot be set up as given: a usage error
                usage_error("llmnas demo", str(exc))
            print(f"llmnas demo: LLM error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 1
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"host": result.host, "task": result.task, "seconds": result.seconds,
                       "summary": result.summary, "optimum": result.optimum,
                       "rows": [r.__dict__ for r in result.rows]}, fh, indent=2, default=str)
    return 0


# -- llmnas compare --------------------------------------------------------------------------
COMPARE_HELP = """Compare our methods, their LLM-off ablations and the hosts' built-ins on tabular
benchmarks over many seeds. Results go to OUT/runs.jsonl (one line per run; a rerun skips
what is done, an interrupted comparison resumes), the report to OUT/results.md and
OUT/<benchmark>.png, the LLM's answers to OUT/llm-cache (--replay reruns from it for free)."""


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_compare_parser(sub: Any) -> None:
    from .benchmarks.runner import DEFAULT_BENCHMARKS

    compare = sub.add_parser("compare", help="compare methods and baselines on tabular benchmarks (runs, report, plots)",
                             description=COMPARE_HELP)
    compare.add_argument("--benchmarks", type=_benchmark_names, default=",".join(DEFAULT_BENCHMARKS),
                         help="comma-separated benchmark names (default: %(default)s; --list shows all)")
    compare.add_argument("--contenders", default="default",
                         help="comma-separated '<algo>@<host>' names, or 'default' (ours, their -nollm ablations "
                              "and the built-ins, all in Optuna, plus random@nni and re@nni) or 'all'")
    compare.add_argument("--seeds", type=_int_at_least(1), default=5, help="seeds 0..N-1 per contender (default 5)")
    compare.add_argument("--budget", type=_int_at_least(1), default=100, help="evaluations per run (default 100)")
    compare.add_argument("--out", default="results", help="output folder (default: results)")
    compare.add_argument("--llm", type=_llm_spec, default=None,
                         help="'local', 'local:<name|file.gguf>', 'openai:<model>' or an http(s):// base URL; "
                              "default: the environment, else local")
    compare.add_argument("--replay", action="store_true",
                         help="answer from the LLM cache only (never contact the endpoint; a miss is an error)")
    compare.add_argument("--cache", default=None, help="the LLM response cache folder (default: OUT/llm-cache)")
    compare.add_argument("--report-only", action="store_true", help="only (re)write the report from OUT/runs.jsonl")
    compare.add_argument("--tables", default=None, help="folder of the benchmark tables (default: the usual search)")
    compare.add_argument("--nni-space", choices=["table", "hub"], default="table",
                         help="NNI model space: the benchmark's dimensions as mutables (default) or, for "
                              "NAS-Bench-201, NNI's hub space NasBench201 (same mutables, slower)")
    compare.add_argument("--list", action="store_true", help="list the benchmarks and contenders, then exit")
    compare.add_argument("--rerun", default=None, metavar="DIR",
                         help="repeat the runs of DIR (its benchmarks, contenders, seeds and budget, from "
                              "DIR/runs.jsonl) from its recorded LLM answers (DIR/llm-cache, replay) into OUT, "
                              "and check every run against DIR's; the selection options are ignored")
    compare.add_argument("--from-scratch", action="store_true",
                         help="with --rerun: ask the LLM (--llm, default the one DIR recorded) instead of "
                              "replaying DIR's answers, and do not check against DIR: the recording redone")
    compare.add_argument("--check-against", default=None, metavar="DIR",
                         help="after the runs, check that every run also in DIR/runs.jsonl found the same "
                              "architectures in the same order (same curves, LLM calls and fallbacks); "
                              "exit status 1 if not")
    compare.add_argument("--readme", default=None,
                         help="also copy the report into this markdown file, between the lines "
                              f"'{README_START}' and '{README_END}', OUT relative to the file's folder "
                              "(headings shifted down two levels)")
    compare.add_argument("-v", "--verbose", action="store_true", help="log every run and the methods' notes")


class _ConsoleFilter(logging.Filter):
    """Without -v the console shows the runner's and the LLM layer's messages and errors; the
    methods' notes (LAPT's whitelist repairs …) go to OUT/compare.log only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.startswith(("llmnas.benchmarks", "llmnas.llm", "llmnas.cli"))


@contextlib.contextmanager
def _compare_logging(out: Any, verbose: bool) -> Iterator[None]:
    """Log INFO and up to OUT/compare.log and (filtered) to stderr, for the command's duration."""
    from pathlib import Path

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    Path(out).mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(Path(out) / "compare.log", encoding="utf-8")
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(fmt)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(fmt)
    if not verbose:
        console.addFilter(_ConsoleFilter())
    from .llm.base import RedactingFilter

    for handler in (to_file, console):
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in (to_file, console):
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


README_START = "<!-- llmnas compare {out}: start -->"
README_END = "<!-- llmnas compare {out}: end -->"


def _update_readme(readme: str | None, out: str, results: Any) -> None:
    """Replace the text between the markers of ``readme`` named by ``out`` (its path relative
    to the readme's folder) with the report ``results``, its headings two levels down and its
    plot links made relative to the readme's folder."""
    if not readme:
        return
    path, out_dir = Path(readme), Path(out)
    prefix = os.path.relpath(out_dir, path.parent).replace(os.sep, "/")
    start, end = README_START.format(out=prefix), README_END.format(out=prefix)
    text = path.read_text(encoding="utf-8")
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise SystemExit(f"llmnas compare: {readme} needs one line '{start}' followed by one '{end}'")
    body = []
    for line in Path(results).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            line = "##" + line
        line = re.sub(r"!\[([^\]]*)\]\(([^):/]+\.png)\)", lambda m: f"![{m.group(1)}]({prefix}/{m.group(2)})", line)
        body.append(line)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + start + "\n" + "\n".join(body).strip() + "\n" + end + tail, encoding="utf-8")
    print(f"updated {readme}")


_SAME_FIELDS = ("best_search", "best_report", "evals_to_optimum", "evals_to_top", "distinct", "llm_calls",
                "llm_proposals", "fallback_proposals")
"""What a replayed run must repeat exactly (wall times and cache counters may differ)."""


def _check_against(reference: str, out: str) -> int:
    """Compare the runs of ``out`` with those of ``reference`` (by run key); 1 if any differ."""
    from .benchmarks.runner import RUNS_FILE, read_runs, run_key

    ref = {run_key(r): r for r in read_runs(Path(reference) / RUNS_FILE)}
    new = {run_key(r): r for r in read_runs(Path(out) / RUNS_FILE)}
    common = sorted(set(ref) & set(new))
    differ = [k for k in common if any(ref[k].get(f) != new[k].get(f) for f in _SAME_FIELDS)]
    print(f"check against {reference}: {len(common)} runs in both, {len(common) - len(differ)} identical, "
          f"{len(differ)} different" + "".join(f"\n  differs: {k[1]} seed {k[2]} on {k[0]}" for k in differ))
    if not common:
        print("no run in common: nothing was checked", file=sys.stderr)
        return 1
    return 1 if differ else 0


def run_compare(args: argparse.Namespace) -> int:
    """``llmnas compare``: plan (stating the estimated duration), run with a progress bar,
    write the report. Exit status 1 when a run failed or a replay missed the cache."""
    from .benchmarks.registry import benchmark_names
    from .benchmarks.report import write_report
    from .benchmarks.runner import DEFAULT_CONTENDERS, Comparison, known_contenders
    from .llm.protocol import LLMError

    if args.list:
        print("benchmarks: " + ", ".join(benchmark_names()))
        print("contenders: " + ", ".join(known_contenders()))
        print("default contenders: " + ", ".join(DEFAULT_CONTENDERS))
        return 0
    if args.report_only:
        paths = write_report(args.out)
        print("\n".join(f"wrote {p}" for p in paths))
        _update_readme(args.readme, args.out, paths[0])
        return 0
    contenders = {"default": list(DEFAULT_CONTENDERS), "all": known_contenders()}.get(
        args.contenders.strip().lower(), _csv(args.contenders))
    if args.from_scratch and not args.rerun:
        usage_error("llmnas compare", "--from-scratch repeats a recorded folder: give it with --rerun DIR")
    if args.rerun and not args.from_scratch:
        args.check_against = args.check_against or args.rerun
    with _compare_logging(args.out, args.verbose):
        try:
            if args.rerun:
                comparison = Comparison.rerun_of(
                    args.rerun, args.out, fresh=args.from_scratch, benchmarks_path=args.tables,
                    nni_space=args.nni_space, **({"llm": args.llm} if args.llm else {}))
            else:
                comparison = Comparison(args.out, benchmarks=list(args.benchmarks), contenders=contenders,
                                        seeds=args.seeds, budget=args.budget, llm=args.llm, replay=args.replay,
                                        cache=args.cache, benchmarks_path=args.tables, nni_space=args.nni_space)
            plan = comparison.plan()  # resolves the LLM: a named one that cannot work is a usage error
        except (ValueError, FileNotFoundError) as exc:
            usage_error("llmnas compare", str(exc))
        except LLMError as exc:
            print(f"llmnas compare: {exc}", file=sys.stderr)
            return 1
        print(plan.describe(), file=sys.stderr)
        bar = _progress(plan.evaluations, "compare") if plan.todo else None
        start = time.perf_counter()

        def on_run_start(spec: Any) -> None:
            if bar is not None:
                bar.set_description(f"{spec.contender} seed {spec.seed} {spec.benchmark}")

        try:
            result = comparison.run(on_evaluation=(lambda: bar.update(1)) if bar is not None else None,
                                    on_run_start=on_run_start)
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start
        if plan.todo:
            print(f"Ran {len(result.records)} runs in {seconds:.0f} s (estimated {plan.estimate_s:.0f} s); "
                  f"{result.skipped} were already done.", file=sys.stderr)
        paths = write_report(args.out)
        print("\n".join(f"wrote {p}" for p in paths))
        _update_readme(args.readme, args.out, paths[0])
        status = _check_against(args.check_against, args.out) if args.check_against else 0
        if result.failures:
            print(f"{len(result.failures)} runs failed (see {args.out}/compare.log):", file=sys.stderr)
            for spec, error in result.failures:
                print(f"  {spec.contender} seed {spec.seed} on {spec.benchmark}: {error}", file=sys.stderr)
            status = 1
        if result.replay_misses:
            print(f"{result.replay_misses} LLM requests were not in the cache (--replay): those runs differ from "
                  "the cached ones (see results.md).", file=sys.stderr)
            status = 1
        return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
