"""The LLM-quality report's tolerance (issue 15's rule: a quarter of TPE's lead over random
search) and the bad-LLM rows it names, on records written out by hand so that every number is
known: which rows are beyond it, on which seeds, for either direction of the metric."""

from __future__ import annotations

from typing import Any

from llmnas.app.quality.report import quality_markdown


def _runs(contender: str, llm: str, finals: dict[int, float], *, minimize: bool = False) -> list[dict[str, Any]]:
    """One record per seed whose reported metric ends at ``finals[seed]`` (budget 4)."""
    method, _, _ = contender.partition("@")
    base = method.removesuffix("-nollm")
    kind = "builtin" if base in ("tpe", "random") else ("ablation" if method.endswith("-nollm") else "ours")
    direction = "minimize" if minimize else "maximize"
    return [{
        "benchmark": "table", "budget": 4, "contender": contender, "seed": seed, "llm": llm, "kind": kind,
        "method": None if kind == "builtin" else base, "search_metric": "valid", "report_metric": "test",
        "direction": direction, "report_direction": direction, "top_count": 1, "table_size": 10,
        "evaluations": 4, "evals_to_top": None, "llm_calls": 1 if kind == "ours" else 0, "llm_repeats": 0,
        "best_report": [value] * 4, "best_search": [value] * 4,
    } for seed, value in finals.items()]


def _line(report: str) -> str:
    return next(line for line in report.splitlines() if line.startswith("Tolerance"))


def _named(report: str) -> str:
    """The rows the tolerance line names (after its explanation)."""
    return _line(report).split("standard error): ")[1]


def test_the_rows_beyond_the_tolerance_are_named_on_the_seeds_both_ran():
    runs = (_runs("tpe@optuna", "none", {0: 94.0, 1: 94.4, 2: 99.0})  # seed 2: no random run to pair with
            + _runs("random@optuna", "none", {0: 93.6, 1: 93.2})
            + _runs("seki-nollm@optuna", "none", {0: 94.2, 1: 94.2})
            + _runs("seki@optuna", "quality:misleading", {0: 93.9, 1: 93.9})  # 0.30 below its ablation
            + _runs("seki@optuna", "quality:uninformed", {0: 94.1, 1: 94.1})  # 0.10 below: within 0.20
            + _runs("seki@optuna", "quality:expert", {0: 90.0, 1: 90.0}))  # an expert is not judged here
    report = quality_markdown(runs)
    assert "lead over random search at 4 evaluations (+0.80): 0.20." in _line(report)  # paired: seeds 0 and 1
    named = _named(report)
    assert named.startswith("seki@optuna misleading vs its ablation -0.30 ± 0.00 (0–2); "
                            "seki@optuna misleading vs TPE -0.30")  # TPE on seeds 0 and 1 only
    assert "uninformed" not in named and "expert" not in named


def test_lower_is_better_and_no_lead_means_no_tolerance():
    runs = (_runs("tpe@optuna", "none", {0: 0.30, 1: 0.30}, minimize=True)  # TPE's error is the higher
            + _runs("random@optuna", "none", {0: 0.20, 1: 0.20}, minimize=True)
            + _runs("gpt-ea-nollm@optuna", "none", {0: 0.10, 1: 0.10}, minimize=True)
            + _runs("gpt-ea@optuna", "quality:uninformed", {0: 0.12, 1: 0.10}, minimize=True))
    report = quality_markdown(runs)
    assert _line(report).startswith("Tolerance: 0: TPE does not lead random search at 4 evaluations (-0.1000).")
    assert _named(report).startswith("gpt-ea@optuna uninformed vs its ablation -0.0100") and "vs TPE" not in _named(report)


def test_without_random_search_the_report_says_what_the_tolerance_needs():
    runs = (_runs("tpe@optuna", "none", {0: 94.0}) + _runs("seki-nollm@optuna", "none", {0: 94.0})
            + _runs("seki@optuna", "quality:misleading", {0: 93.0}))
    assert _line(quality_markdown(runs)) == "Tolerance: none (it needs `random@optuna` in the sweep)."
