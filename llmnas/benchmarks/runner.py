"""The old place of :mod:`llmnas.app.runner` (the comparison moved into the application package,
:mod:`llmnas.app`).

Kept so that imports such as ``from llmnas.benchmarks.runner import ...`` still work: every name is
looked up in :mod:`llmnas.app.runner` on first use, so importing this module loads nothing of the
application (and no host).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # module dunders (asked by tools such as doctest) are this module's own
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ..app import runner

    return getattr(runner, name)
