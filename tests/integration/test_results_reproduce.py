"""The README's results are reproducible: every recorded run of ``results/`` is repeated from
its recorded LLM answers (no model, no endpoint) and finds the same architectures in the same
order, with the same LLM calls and fallbacks (what ``make results`` does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnas.benchmarks.runner import read_runs
from llmnas.cli import main

REPO = Path(__file__).resolve().parents[2]
RECORDED = sorted(p.parent for p in (REPO / "results").glob("*/runs.jsonl"))


@pytest.mark.parametrize("recorded", RECORDED, ids=[p.name for p in RECORDED])
def test_recorded_results_replay_identically(recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    runs = read_runs(recorded / "runs.jsonl")
    out = tmp_path / "reproduced"
    assert main(["compare", "--rerun", str(recorded), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{len(runs)} runs in both, {len(runs)} identical, 0 different" in printed
    replayed = read_runs(out / "runs.jsonl")
    assert all(r["replay_misses"] == 0 for r in replayed)
    assert sum(r["cache_hits"] for r in replayed) == sum(r["llm_calls"] for r in runs) > 0
    assert (out / "results.md").is_file() and (out / f"{runs[0]['benchmark']}.png").is_file()


def test_there_are_recorded_results() -> None:
    assert RECORDED, "results/*/runs.jsonl is missing: the README's results section has no data"
