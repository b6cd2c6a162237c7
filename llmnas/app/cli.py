"""The ``llmnas`` command: a real search end to end, printing a result table.

``llmnas demo`` runs SEKI (or ``--method lapt|collm-nas|gpt-ea``) in Optuna (or NNI with ``--host nni``) on NAS-Bench-201: the
table given by ``--benchmarks DIR`` or ``LLMNAS_BENCHMARKS_DIR``, else the one beside the
project, else the copy shipped in the package. ``--task digits`` runs another real search
instead: small CNNs trained on CPU on the handwritten digits that ship with scikit-learn (it
needs torch and scikit-learn); a missing table is an error, never a switch of task. The LLM is the environment's
(``OPENAI_BASE_URL``/``OPENAI_API_KEY``/``LLMNAS_MODEL``) or, with none set, the embedded
local model: no key, no network.

``llmnas compare`` runs the comparison of :mod:`llmnas.app.runner` (methods, their
LLM-off ablations and the hosts' built-ins over seeds, resumable) and writes its report.

Every bad argument is one line on stderr naming what was expected, exit status 2 (no
traceback). The command sets up its own log handlers (on the ``llmnas`` logger for ``demo``, for
the command's duration), each with secret redaction.

The command is part of :mod:`llmnas.app`, the application on top of the library: the one
part of ``llmnas`` that imports a host (lazily, inside the function that runs it). The
subcommands live in :mod:`llmnas.app.demo` and :mod:`llmnas.app.compare`; ``python -m llmnas``
runs this module's :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .. import __version__
from ._args import Parser, usage_error
from .compare import _SAME_FIELDS, add_compare_parser, run_compare  # noqa: F401  (_SAME_FIELDS: as before)
from .demo import add_demo_parser, run_demo

__all__ = ["build_parser", "main", "usage_error"]


def build_parser() -> argparse.ArgumentParser:
    """The ``llmnas`` command's parser: ``demo`` and ``compare``."""
    parser = Parser(prog="llmnas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,compare}")
    add_demo_parser(sub)
    add_compare_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``llmnas`` command; returns the exit status (2 for a bad argument)."""
    args = build_parser().parse_args(argv)
    if args.command == "compare":
        return run_compare(args)
    return run_demo(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
