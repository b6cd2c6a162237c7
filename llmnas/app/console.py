"""What the ``llmnas`` command shows on the terminal, in one place.

The library logs (``logging``); only the command's front end writes to the terminal, and only
through these two functions: :func:`result` for what the command produced (a result table, the
lists of ``compare --list``, the files it wrote), on stdout so it can be piped, and
:func:`message` for one-line notices and errors meant for the person at the terminal, on stderr.

Example:
    >>> result("wrote results/nb201.md")
    wrote results/nb201.md
"""

from __future__ import annotations

import sys

__all__ = ["message", "result"]


def result(text: str) -> None:
    """Write ``text`` (and a newline) to stdout: what the command produced."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def message(text: str) -> None:
    """Write ``text`` (and a newline) to stderr: a notice or an error for the terminal."""
    sys.stderr.write(f"{text}\n")
    sys.stderr.flush()
