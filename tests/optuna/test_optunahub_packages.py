"""The OptunaHub packages under ``hub/package/samplers``: each folder has the registry's layout
(``__init__.py``, the sampler module, ``README.md`` with the hub's front matter, ``LICENSE``,
``example.py``), loads with ``optunahub.load_local_module`` as a user loads it, exposes the very
sampler class of ``optuna_llm_samplers``, and its example runs 10 distinct trials."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

import optuna_llm_samplers
from tests.fake_openai import FakeOpenAIServer

optunahub = pytest.importorskip("optunahub", reason="optunahub is in the dev extra: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "hub" / "package"
PACKAGES = {
    "llmnas_seki": "SEKISampler",
    "llmnas_lapt": "LAPTSampler",
    "llmnas_collm_nas": "CoLLMNASSampler",
    "llmnas_gpt_ea": "GPTEASampler",
}
FRONT_MATTER_KEYS = {"author", "title", "description", "tags", "optuna_versions", "license"}


def front_matter(readme: Path) -> dict[str, Any]:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{readme}: no front matter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_every_sampler_has_a_package() -> None:
    assert sorted(p.name for p in (REGISTRY / "samplers").iterdir() if p.is_dir()) == sorted(PACKAGES)
    assert sorted(PACKAGES.values()) == sorted(optuna_llm_samplers.samplers.__all__)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_layout_and_front_matter(package: str) -> None:
    folder = REGISTRY / "samplers" / package
    for name in ("__init__.py", "sampler.py", "README.md", "LICENSE", "example.py", "requirements.txt"):
        assert (folder / name).is_file(), f"{folder}: {name} missing"
    meta = front_matter(folder / "README.md")
    assert set(meta) == FRONT_MATTER_KEYS
    assert all(isinstance(meta[k], str) and meta[k] for k in ("author", "title", "description", "license"))
    assert "sampler" in meta["tags"] and all(isinstance(t, str) for t in meta["tags"])
    assert meta["optuna_versions"] and all(isinstance(v, str) for v in meta["optuna_versions"])
    assert meta["license"] == "MIT License"
    assert (folder / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert "llmnas[optuna]" in (folder / "requirements.txt").read_text()


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_load_local_module_gives_the_sampler(package: str) -> None:
    module = optunahub.load_local_module(package=f"samplers/{package}", registry_root=str(REGISTRY))
    cls = getattr(module, PACKAGES[package])
    assert cls is getattr(optuna_llm_samplers, PACKAGES[package])
    assert module.__all__ == [PACKAGES[package]]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_example_runs_ten_distinct_trials(
    package: str, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``example.py`` as a user runs it, the hub's download replaced by the local folder."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-hub-example-0123456789")
    monkeypatch.setenv("LLMNAS_MODEL", "fake-model")
    loaded: list[str] = []

    def load_module(package: str, **_: Any) -> Any:
        loaded.append(package)
        return optunahub.load_local_module(package=package, registry_root=str(REGISTRY))

    monkeypatch.setattr(optunahub, "load_module", load_module)
    namespace = runpy.run_path(str(REGISTRY / "samplers" / package / "example.py"))
    study: optuna.Study = namespace["main"]()
    assert loaded == [f"samplers/{package}"]
    assert type(study.sampler) is getattr(optuna_llm_samplers, PACKAGES[package])
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 10
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 10
    # Every example asks the LLM within its 10 trials (LAPT warms up on 5, GPT-EA breeds from the 6th).
    assert fake_openai.chat_requests, "the LLM was never asked"
