"""``llmnas compare``: plan, run and report a comparison (:mod:`llmnas.app.runner`), check a
rerun against its recording and copy the report into a README."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..options import PROMPT_HISTORY_FORMS
from . import console
from ._args import (benchmark_list, chosen_options, csv_list, int_at_least, llm_spec, progress, quality_list,
                    usage_error)

__all__ = [
    "COMPARE_HELP", "README_END", "README_START", "add_compare_parser", "report_failures", "run_compare",
    "run_with_progress",
]

COMPARE_HELP = """Compare our methods, their LLM-off ablations and the hosts' built-ins on tabular
benchmarks over many seeds. Results go to OUT/runs.jsonl (one line per run; a rerun skips
what is done, an interrupted comparison resumes), the report to OUT/results.md and
OUT/<benchmark>.png, the LLM's answers to OUT/llm-cache (--replay reruns from it for free)."""


def add_compare_parser(sub: Any) -> None:
    """The ``compare`` subcommand's arguments."""
    from .contenders import DEFAULT_BENCHMARKS

    compare = sub.add_parser("compare", help="compare methods and baselines on tabular benchmarks (runs, report, plots)",
                             description=COMPARE_HELP)
    compare.add_argument("--benchmarks", type=benchmark_list, default=",".join(DEFAULT_BENCHMARKS),
                         help="comma-separated benchmark names (default: %(default)s; --list shows all)")
    compare.add_argument("--contenders", default="default",
                         help="comma-separated '<algo>@<host>' names, or 'default' (ours, their -nollm ablations "
                              "and the built-ins, all in Optuna, plus random@nni and re@nni) or 'all'")
    compare.add_argument("--seeds", type=int_at_least(1), default=5, help="seeds 0..N-1 per contender (default 5)")
    compare.add_argument("--budget", "--evaluations", dest="budget", type=int_at_least(1), default=100,
                         help="evaluations per run (default 100)")
    compare.add_argument("--out", default="results", help="output folder (default: results)")
    compare.add_argument("--llm", type=llm_spec, default=None,
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
    compare.add_argument("--llm-quality", type=quality_list, default=None, metavar="QUALITIES",
                         help="the LLM-quality sweep instead: every method (default: ours in Optuna, their "
                              "-nollm ablations, tpe@optuna and random@optuna, which set each table's "
                              "tolerance) with a fake LLM answering from the table at each "
                              "of these comma-separated qualities (expert, middle, misleading, uninformed); "
                              "report in OUT/quality.md")
    compare.add_argument("--trust", choices=["on", "off"], default=None,
                         help="our contenders' trust= option: 'on' shares each batch between the LLM and the "
                              "method's operator by how each did (the default); 'off': every batch is the LLM's, "
                              "as in the papers (the default with --rerun: as the runs were recorded)")
    compare.add_argument("--prompt-history", choices=list(PROMPT_HISTORY_FORMS), default=None,
                         help="our contenders' prompt_history= option: 'summary' shows per dimension what was "
                              "tried and as many tried architectures as fit (the default); 'lists': the best 8 "
                              "and the latest 8 (the default with --rerun: as the runs were recorded)")
    compare.add_argument("-v", "--verbose", action="store_true", help="log every run and the methods' notes")


_CONSOLE_LOGGERS = ("llmnas.app", "llmnas.benchmarks", "llmnas.llm", "llmnas.cli")
"""The loggers whose INFO and WARNING lines reach the console without -v."""


class _ConsoleFilter(logging.Filter):
    """Without -v the console shows the runner's and the LLM layer's messages and errors; the
    methods' notes (LAPT's whitelist repairs …) go to OUT/compare.log only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.startswith(_CONSOLE_LOGGERS)


@contextlib.contextmanager
def _compare_logging(out: Any, verbose: bool) -> Iterator[None]:
    """Log INFO and up to OUT/compare.log and (filtered) to stderr, for the command's duration."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    Path(out).mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(Path(out) / "compare.log", encoding="utf-8")
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(fmt)
    to_console = logging.StreamHandler(sys.stderr)
    to_console.setLevel(logging.INFO if verbose else logging.WARNING)
    to_console.setFormatter(fmt)
    if not verbose:
        to_console.addFilter(_ConsoleFilter())
    from ..llm.base import RedactingFilter

    for handler in (to_file, to_console):
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in (to_file, to_console):
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
    console.result(f"updated {readme}")


_SAME_FIELDS = ("best_search", "best_report", "evals_to_optimum", "evals_to_top", "distinct", "llm_calls",
                "llm_proposals", "fallback_proposals")
"""What a replayed run must repeat exactly (wall times and cache counters may differ)."""


def _check_against(reference: str, out: str) -> int:
    """Compare the runs of ``out`` with those of ``reference`` (by run key); 1 if any differ."""
    from .records import RUNS_FILE, read_runs, run_key

    ref = {run_key(r): r for r in read_runs(Path(reference) / RUNS_FILE)}
    new = {run_key(r): r for r in read_runs(Path(out) / RUNS_FILE)}
    common = sorted(set(ref) & set(new))
    differ = [k for k in common if any(ref[k].get(f) != new[k].get(f) for f in _SAME_FIELDS)]
    console.result(f"check against {reference}: {len(common)} runs in both, {len(common) - len(differ)} identical, "
          f"{len(differ)} different" + "".join(f"\n  differs: {k[1]} seed {k[2]} on {k[0]}" for k in differ))
    if not common:
        console.message("no run in common: nothing was checked")
        return 1
    return 1 if differ else 0


def run_with_progress(runner: Any, plan: Any, desc: str, describe_run: Callable[[Any], str]) -> Any:
    """Run ``runner`` (a :class:`~llmnas.app.runner.Comparison` or anything with its ``run``)
    after stating ``plan`` on stderr: a progress bar ``desc`` over the plan's evaluations, its
    label ``describe_run(spec)`` of the run in progress, and at the end the time taken next to
    the estimate. Returns the runner's result."""
    console.message(plan.describe())
    bar = progress(plan.evaluations, desc) if plan.todo else None
    start = time.perf_counter()

    def on_run_start(spec: Any) -> None:
        if bar is not None:
            bar.set_description(describe_run(spec))

    try:
        result = runner.run(on_evaluation=(lambda: bar.update(1)) if bar is not None else None,
                            on_run_start=on_run_start)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    if plan.todo:
        console.message(f"Ran {len(result.records)} runs in {seconds:.0f} s (estimated {plan.estimate_s:.0f} s); "
              f"{result.skipped} were already done.")
    return result


def report_failures(result: Any, out: str) -> int:
    """List the failed runs of ``result`` on stderr; the exit status: 1 if any failed, else 0."""
    if not result.failures:
        return 0
    console.message(f"{len(result.failures)} runs failed (see {out}/compare.log):")
    for spec, error in result.failures:
        console.message(f"  {spec.contender} seed {spec.seed} on {spec.benchmark}: {error}")
    return 1


def run_compare(args: argparse.Namespace) -> int:
    """``llmnas compare``: plan (stating the estimated duration), run with a progress bar,
    write the report. Exit status 1 when a run failed or a replay missed the cache."""
    from ..benchmarks.registry import benchmark_names
    from ..llm.protocol import LLMError
    from .report import write_report
    from .runner import DEFAULT_CONTENDERS, Comparison, known_contenders

    if args.list:
        console.result("benchmarks: " + ", ".join(benchmark_names()))
        console.result("contenders: " + ", ".join(known_contenders()))
        console.result("default contenders: " + ", ".join(DEFAULT_CONTENDERS))
        return 0
    if getattr(args, "llm_quality", None):
        from .quality.cli import run_quality_compare

        return run_quality_compare(args)
    if args.report_only:
        paths = write_report(args.out)
        console.result("\n".join(f"wrote {p}" for p in paths))
        _update_readme(args.readme, args.out, paths[0])
        return 0
    contenders = {"default": list(DEFAULT_CONTENDERS), "all": known_contenders()}.get(
        args.contenders.strip().lower(), csv_list(args.contenders))
    if args.from_scratch and not args.rerun:
        usage_error("llmnas compare", "--from-scratch repeats a recorded folder: give it with --rerun DIR")
    if args.rerun and not args.from_scratch:
        args.check_against = args.check_against or args.rerun
    with _compare_logging(args.out, args.verbose):
        try:
            if args.rerun:
                comparison = Comparison.rerun_of(
                    args.rerun, args.out, fresh=args.from_scratch, benchmarks_path=args.tables,
                    nni_space=args.nni_space, **({"llm": args.llm} if args.llm else {}),
                    **({"options": chosen_options(args)} if chosen_options(args) else {}))
            else:
                comparison = Comparison(args.out, benchmarks=list(args.benchmarks), contenders=contenders,
                                        seeds=args.seeds, budget=args.budget, llm=args.llm, replay=args.replay,
                                        cache=args.cache, benchmarks_path=args.tables, nni_space=args.nni_space,
                                        options=chosen_options(args))
            plan = comparison.plan()  # resolves the LLM: a named one that cannot work is a usage error
        except (ValueError, FileNotFoundError) as exc:
            usage_error("llmnas compare", str(exc))
        except LLMError as exc:
            console.message(f"llmnas compare: {exc}")
            return 1
        result = run_with_progress(comparison, plan, "compare",
                                   lambda spec: f"{spec.contender} seed {spec.seed} {spec.benchmark}")
        paths = write_report(args.out)
        console.result("\n".join(f"wrote {p}" for p in paths))
        _update_readme(args.readme, args.out, paths[0])
        status = _check_against(args.check_against, args.out) if args.check_against else 0
        status = max(status, report_failures(result, args.out))
        if result.replay_misses:
            console.message(f"{result.replay_misses} LLM requests were not in the cache (--replay): those runs differ from "
                  "the cached ones (see results.md).")
            status = 1
        return status
