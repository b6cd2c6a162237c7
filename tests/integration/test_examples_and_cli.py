"""The examples and the ``llmnas demo`` command run as a user runs them (a new process),
against an endpoint given by environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env_endpoint, tmp_path: Path, timeout: int = 240) -> str:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path), NNI_CONFIG_DIR=str(tmp_path / "nni-config"),
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "sk-integration-secret" not in out.stdout + out.stderr
    return out.stdout


def test_optuna_example(env_endpoint, tmp_path):
    out = run(["examples/seki_optuna_nb201.py", "--trials", "12"], env_endpoint, tmp_path)
    assert "best valid" in out and "table optimum test 94.37" in out
    assert env_endpoint.chat_requests


def test_nni_example(env_endpoint, tmp_path):
    out = run(["examples/seki_nni_nb201.py", "--models", "10"], env_endpoint, tmp_path)
    assert "accepted_llm" in out
    assert env_endpoint.chat_requests


def test_real_training_example(env_endpoint, tmp_path):
    out = run(["examples/seki_optuna_train_cnn.py", "--trials", "4"], env_endpoint, tmp_path)
    assert "best validation accuracy" in out


@pytest.mark.parametrize("host", ["optuna", "nni"])
def test_demo_prints_a_result_table(env_endpoint, tmp_path, host):
    result = tmp_path / "result.json"
    out = run(["-m", "llmnas.cli", "demo", "--host", host, "--budget", "10", "--json", str(result)],
              env_endpoint, tmp_path)
    assert "Top 10 of 10 architectures (NAS-Bench-201 cifar10" in out
    assert "Evaluated 10 architectures (10 distinct)" in out
    assert "table optimum: valid 91.61, test 94.37" in out
    assert result.exists()


def test_demo_without_a_table_trains_cnns(env_endpoint, tmp_path):
    empty = tmp_path / "no-tables"
    empty.mkdir()
    out = run(["-m", "llmnas.cli", "demo", "--budget", "3", "--epochs", "1", "--benchmarks", str(empty)],
              env_endpoint, tmp_path)
    assert "CNNs trained on scikit-learn digits" in out
    assert "Evaluated 3 architectures (3 distinct)" in out
