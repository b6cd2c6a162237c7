"""The core package imports no host: every llmnas module but the CLI loads without NNI or
Optuna, so a method never depends on the host that runs it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import llmnas


def test_core_modules_import_no_host():
    modules = [m.name for m in pkgutil.walk_packages(llmnas.__path__, "llmnas.") if m.name != "llmnas.cli"]
    assert "llmnas.methods.seki" in modules and "llmnas.llm.openai_chat" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('nni', 'optuna', 'pytorch_lightning'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
