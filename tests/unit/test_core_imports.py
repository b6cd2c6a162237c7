"""The rooms of the project, checked statically on the import graph (no module is imported).

- The core (every module of ``llmnas`` outside ``llmnas/app/``) imports no host: not NNI, Optuna,
  PyTorch Lightning, torch / torchvision (what NNI's NAS pulls in), nor our host adapters
  ``nni_llm_strategies`` / ``optuna_llm_samplers``.
- The core imports nothing from ``llmnas.app`` either, but for the entry point and the old module
  paths kept as lazy aliases (:data:`APP_GATES`).
- ``llmnas.app`` imports the hosts only inside the functions that use them, so importing it
  loads no host.
- Neither host adapter imports the other (nor the other's host).

What counts as an import (decided here): every ``import`` / ``from … import`` statement anywhere
in a file, at module level, inside a function or method, under ``if TYPE_CHECKING:`` or in a
``try:`` block, plus ``importlib.import_module("…")`` / ``__import__("…")`` with a literal name.
A lazy import inside a function is a real dependency (it runs whenever the function does), and
a ``TYPE_CHECKING`` import makes the core's types depend on a host (a type checker of a
core-only install fails on it), so neither is exempt. Relative imports are resolved against the
file's package. The one exception is :data:`OPTIONAL_TORCH`: torch, an optional dependency
that is no host, imported lazily (inside functions only) by the two core modules that train a
small network.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOSTS: tuple[str, ...] = (
    "nni", "optuna", "torch", "torchvision", "pytorch_lightning", "lightning", "nni_llm_strategies",
    "optuna_llm_samplers",
)
"""Top-level packages the core must not import."""

OPTIONAL_TORCH: dict[str, str] = {
    "llmnas/methods/gpt_ea/transformer.py": "GPT-EA's Transformer prior (the paper's), trained on CPU if torch is there",
    "llmnas/benchmarks/digits.py": "the digits task: small CNNs trained on CPU (llmnas demo --task digits)",
}
"""Core files that may import ``torch`` (only that, only inside functions), and why."""

APP_GATES: dict[str, str] = {
    "llmnas/__main__.py": "python -m llmnas runs the command",
    "llmnas/cli.py": "the old path of llmnas.app.cli (a lazy alias)",
    "llmnas/benchmarks/runner.py": "the old path of llmnas.app.runner, in the README (a lazy alias)",
}
"""Core files that may import ``llmnas.app``, and why."""


@dataclass(frozen=True)
class Import:
    """One import found in a file: the absolute module name and where the statement stands."""

    file: str
    line: int
    module: str
    where: str  # "module", "function" or "type-checking"

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module} ({self.where})"


def _module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of ``path`` (relative to the repository) and whether it is a package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(source: str, file: str, module: str, is_package: bool) -> list[Import]:
    """Every import of ``source`` (the file ``file``, module ``module``); see the module docstring."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(file, node.lineno, alias.name, where) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node)
            found.append(Import(file, node.lineno, target, where))
            # ``from llmnas import app`` imports the submodule llmnas.app
            found.extend(Import(file, node.lineno, f"{target}.{alias.name}", where) for alias in node.names
                         if alias.name != "*")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append(Import(file, node.lineno, first.value, where))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            where = "function" if where == "module" else where
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            visit(node.test, where)
            for child in node.body:
                visit(child, "type-checking")
            for child in node.orelse:
                visit(child, where)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(ast.parse(source, filename=file), "module")
    return found


def imports_in(folder: str, *, skip: str | None = None) -> list[Import]:
    """Every import of every ``.py`` file under ``folder`` (relative to the repository), but those
    under ``skip``."""
    out: list[Import] = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if skip is not None and rel.startswith(skip):
            continue
        module, is_package = _module_name(path)
        out.extend(imports_of(path.read_text(encoding="utf-8"), rel, module, is_package))
    return out


def core_violations(found: list[Import]) -> list[str]:
    """The imports of core files that break the rules of the module docstring."""
    bad = []
    for imp in found:
        if imp.top in HOSTS:
            allowed = imp.top == "torch" and imp.file in OPTIONAL_TORCH and imp.where == "function"
            if not allowed:
                bad.append(str(imp))
        elif (imp.module == "llmnas.app" or imp.module.startswith("llmnas.app.")) and imp.file not in APP_GATES:
            bad.append(f"{imp} (the core must not depend on the application)")
    return bad


# --------------------------------------------------------------------------------------------
# The checker itself finds every kind of import (so a pass below means something)
# --------------------------------------------------------------------------------------------
SAMPLE = '''
from __future__ import annotations
import os
import optuna.samplers
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from nni.nas import strategy
try:
    import pytorch_lightning as pl
except ImportError:
    pl = None

def lazy():
    import torch
    from optuna_llm_samplers import SEKISampler
    return importlib.import_module("nni_llm_strategies")

class Thing:
    def method(self):
        from ..app import runner
        from .. import app
        from . import sibling
'''


def test_the_checker_sees_every_kind_of_import() -> None:
    found = imports_of(SAMPLE, "llmnas/benchmarks/sample.py", "llmnas.benchmarks.sample", False)
    seen = {(imp.module, imp.where) for imp in found}
    assert {("optuna.samplers", "module"), ("nni.nas", "type-checking"), ("pytorch_lightning", "module"),
            ("torch", "function"), ("optuna_llm_samplers", "function"), ("nni_llm_strategies", "function"),
            ("llmnas.app.runner", "function"), ("llmnas.app", "function"), ("llmnas.benchmarks.sibling", "function"),
            ("os", "module")} <= seen
    bad = core_violations(found)
    # from ..app import runner: llmnas.app and llmnas.app.runner; from .. import app: llmnas.app
    assert len([b for b in bad if "llmnas.app" in b]) == 3
    for host in ("optuna.samplers", "nni.nas", "pytorch_lightning", "torch", "optuna_llm_samplers",
                 "nni_llm_strategies"):
        assert any(f" imports {host} " in b for b in bad), (host, bad)
    assert not any(" os " in b or "sibling" in b for b in bad)
    # torch is allowed lazily in the listed files only, never at module level
    torch_file = next(iter(OPTIONAL_TORCH))
    lazy = imports_of("def f():\n    import torch\n", torch_file, "x", False)
    eager = imports_of("import torch\n", torch_file, "x", False)
    assert core_violations(lazy) == [] and len(core_violations(eager)) == 1


def test_relative_imports_resolve_against_the_package() -> None:
    found = imports_of("from .runner import x\nfrom ..app import cli\n", "llmnas/app/__init__.py", "llmnas.app", True)
    assert [imp.module for imp in found] == ["llmnas.app.runner", "llmnas.app.runner.x", "llmnas.app", "llmnas.app.cli"]


# --------------------------------------------------------------------------------------------
# The rules, on the real tree
# --------------------------------------------------------------------------------------------
def test_the_core_imports_no_host_and_not_the_application() -> None:
    found = imports_in("llmnas", skip="llmnas/app/")
    assert len({imp.file for imp in found}) > 30 and any(imp.file == "llmnas/searcher.py" for imp in found)
    bad = core_violations(found)
    assert not bad, "the core (llmnas outside llmnas/app/) must import no host:\n" + "\n".join(bad)


def test_the_exceptions_are_still_needed() -> None:
    """Every gate to the application and every file allowed torch exists (a stale entry would
    silently widen the rules for a file that comes back later)."""
    missing = [f for f in (*APP_GATES, *OPTIONAL_TORCH) if not (ROOT / f).is_file()]
    assert not missing, f"listed in test_core_imports.py but gone: {missing}"


def test_the_application_imports_hosts_only_inside_functions() -> None:
    found = imports_in("llmnas/app")
    assert any(imp.top == "optuna" for imp in found) and any(imp.top == "nni" for imp in found)
    eager = [str(imp) for imp in found if imp.top in HOSTS and imp.where != "function"]
    assert not eager, "importing llmnas.app must load no host:\n" + "\n".join(eager)


@pytest.mark.parametrize("adapter, other", [
    ("nni_llm_strategies", ("optuna", "optuna_llm_samplers")),
    ("optuna_llm_samplers", ("nni", "nni_llm_strategies")),
])
def test_neither_host_adapter_imports_the_other(adapter: str, other: tuple[str, ...]) -> None:
    bad = [str(imp) for imp in imports_in(adapter) if imp.top in other]
    assert not bad, f"{adapter} must not import {' or '.join(other)}:\n" + "\n".join(bad)
