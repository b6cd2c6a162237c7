"""``examples/collm_nas_nni_supernet.py`` runs as a user runs it (a new process): NNI's
RandomOneShot trains a supernet, then CoLLM-NAS searches its weight-inheriting sub-nets
under a parameter limit. ``--no-llm`` keeps it fast and deterministic (no model, no endpoint)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/collm_nas_nni_supernet.py"


def run_example(args: list[str], tmp_path: Path, timeout: int = 240) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLMNAS_"))}
    env.update(HOME=str(tmp_path), NNI_CONFIG_DIR=str(tmp_path / "nni-config"), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, EXAMPLE, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout


def test_supernet_example_searches_weight_inheriting_subnets(tmp_path):
    limit = 20_000
    out = run_example(["--no-llm", "--budget", "6", "--epochs", "1", "--max-params", str(limit)], tmp_path)

    # The whole budget was spent, every sub-net was evaluated, and the Coordinator kept every
    # proposal (the fallback operator's too) within the parameter limit.
    assert "CoLLMNASStrategy over sub-nets of a RandomOneShot supernet" in out
    assert "Evaluated 6 sub-nets (6 complete, 6 within the limit); LLM: off, 0 calls" in out

    rows = re.findall(r"^\s*(\d+)\s+(\d+\.\d+)\s+(\d+)\s+(\w+)\s+(width1=.*)$", out, flags=re.MULTILINE)
    assert 1 <= len(rows) <= 5, out
    scores = [float(row[1]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < int(row[2]) <= limit for row in rows)
    for row in rows:  # a complete architecture: every label of the space is set
        assert re.fullmatch(r"width1=\d+ op1=\w+ op2=\w+ width2=\d+ op3=\w+ op4=\w+", row[4]), row[4]

    # One epoch of SPOS is enough for inherited weights to beat chance (10 classes) clearly.
    best = re.search(r"best sub-net within the limit: (\d+\.\d+)% valid accuracy, (\d+) params", out)
    assert best, out
    assert float(best.group(1)) == scores[0] > 20.0
    assert int(best.group(2)) <= limit
    assert re.search(r"time: supernet \d+\.\d s, search \d+\.\d s, total \d+\.\d s", out)


def test_supernet_example_with_an_endpoint_from_the_environment(env_endpoint, tmp_path):
    env_keys = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LLMNAS_MODEL")
    saved = {k: os.environ[k] for k in env_keys}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLMNAS_"))}
    env.update(saved, HOME=str(tmp_path), NNI_CONFIG_DIR=str(tmp_path / "nni-config"), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, EXAMPLE, "--budget", "10", "--epochs", "1", "--max-params", "20000"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "Evaluated 10 sub-nets (10 complete, 10 within the limit)" in out.stdout
    navigator = [r for r in env_endpoint.chat_requests if r.body["response_format"]["json_schema"]["name"] == "navigator"]
    # the first batch's Navigator call (a later round calls it only where the trust rule gives the
    # LLM a turn within the 10 sub-nets); it is told the parameter limit
    assert 1 <= len(navigator) <= 2 and "at most 20000 parameters" in navigator[0].body["messages"][1]["content"]
