"""The old place of the ``llmnas`` command, now :mod:`llmnas.app.cli` (run it as ``llmnas`` or
``python -m llmnas``).

Kept so that ``python -m llmnas.cli`` and ``from llmnas.cli import main`` still work: every name
is looked up in :mod:`llmnas.app.cli` on first use, so importing this module loads nothing of the
application (and no host).
"""

from __future__ import annotations

import sys
from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # module dunders (asked by tools such as doctest) are this module's own
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .app import cli

    return getattr(cli, name)


if __name__ == "__main__":  # pragma: no cover
    from llmnas.app.cli import main

    sys.exit(main())
