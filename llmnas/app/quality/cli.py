"""``llmnas compare --llm-quality …``: plan, run and report the LLM-quality sweep
(:mod:`llmnas.app.quality.sweep`), with the same duration estimate, progress bar, logging,
``--readme`` copy (of ``quality.md``, between the markers named by OUT) and exit statuses as
the comparison (:mod:`llmnas.app.compare`)."""

from __future__ import annotations

import argparse
from typing import Any

from .. import console
from .._args import chosen_options, csv_list, usage_error

__all__ = ["run_quality_compare"]

_NOT_WITH = ("rerun", "check_against", "replay", "llm", "cache")
"""Options of ``compare`` that mean nothing for the sweep (its LLM is the fake, never cached)."""


def run_quality_compare(args: argparse.Namespace) -> int:
    """The sweep of ``args`` (the ``compare`` subcommand's namespace, ``llm_quality`` set)."""
    from ..compare import _compare_logging, _update_readme, report_failures, run_with_progress
    from ..contenders import known_contenders
    from .report import write_quality_report
    from .sweep import SWEEP_CONTENDERS, QualitySweep

    given = [name for name in _NOT_WITH if getattr(args, name, None)]
    if given:
        usage_error("llmnas compare", f"--llm-quality runs with its own fake LLM: drop --{given[0].replace('_', '-')}")
    if args.report_only:
        path = write_quality_report(args.out)
        console.result(f"wrote {path}")
        _update_readme(args.readme, args.out, path)
        return 0
    contenders = {"default": list(SWEEP_CONTENDERS), "all": known_contenders()}.get(
        args.contenders.strip().lower(), csv_list(args.contenders))
    with _compare_logging(args.out, args.verbose):
        try:
            sweep = QualitySweep(args.out, benchmarks=list(args.benchmarks), qualities=args.llm_quality,
                                 contenders=contenders, seeds=args.seeds, budget=args.budget,
                                 benchmarks_path=args.tables, nni_space=args.nni_space,
                                 options=chosen_options(args))
            plan = sweep.plan()
        except (ValueError, FileNotFoundError) as exc:
            usage_error("llmnas compare", str(exc))
        result = run_with_progress(sweep, plan, "quality sweep", _describe_run)
        path = write_quality_report(args.out)
        console.result(f"wrote {path}")
        _update_readme(args.readme, args.out, path)
        return report_failures(result, args.out)


def _describe_run(spec: Any) -> str:
    """The progress bar's label of a run: its contender, the fake LLM's quality, seed and benchmark."""
    quality = spec.llm.split(":", 1)[1] if spec.llm.startswith("quality:") else "no LLM"
    return f"{spec.contender} ({quality}) seed {spec.seed} {spec.benchmark}"
