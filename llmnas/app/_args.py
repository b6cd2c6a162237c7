"""The command line's argument types and usage errors: a bad argument is one line on stderr
naming what was expected, exit status 2, no traceback."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, NoReturn

__all__ = [
    "chosen_options",
    "Parser", "benchmark_list", "csv_list", "int_at_least", "integer", "llm_spec", "progress", "quality_list",
    "usage_error",
]


def progress(total: int, desc: str) -> Any:
    """A tqdm progress bar on stderr (``None`` without tqdm)."""
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="arch", file=sys.stderr, dynamic_ncols=True)
    except ImportError:  # pragma: no cover
        return None


def usage_error(prog: str, message: str) -> NoReturn:
    """Exit with status 2 after one line on stderr: ``<prog>: error: <message> (see '<prog> --help')``."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"{prog}: error: {text} (see '{prog} --help')\n")
    raise SystemExit(2)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (``<prog>: error: <what>``,
    naming what was expected and where to look), exit status 2, no usage block."""

    def error(self, message: str) -> NoReturn:
        usage_error(self.prog, message)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``, else an error naming what was expected."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def integer(text: str) -> int:
    """An argparse type: any integer, else an error naming what was expected."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def llm_spec(text: str) -> str:
    """An argparse type: a well-formed ``--llm`` spec (no network: checked by its form)."""
    from ..llm.resolve import check_llm_spec

    try:
        check_llm_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def benchmark_list(text: str) -> list[str]:
    """An argparse type: comma-separated registered benchmark names, each one known."""
    from ..benchmarks.registry import benchmark_names

    names = csv_list(text)
    known = benchmark_names()
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        what = f"unknown benchmark {', '.join(map(repr, unknown))}" if unknown else "no benchmark given"
        raise argparse.ArgumentTypeError(f"{what}; expected comma-separated names from: {', '.join(known)}")
    return names


def quality_list(text: str) -> list[str]:
    """An argparse type: comma-separated LLM qualities of the fake (``expert,misleading`` …)."""
    from .quality.sweep import parse_qualities

    try:
        return parse_qualities(csv_list(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def csv_list(text: str) -> list[str]:
    """The non-empty comma-separated parts of ``text``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def chosen_options(args: argparse.Namespace) -> dict[str, Any]:
    """Our contenders' options that ``--trust`` and ``--prompt-history`` set (only those given)."""
    options: dict[str, Any] = {}
    if args.trust is not None:
        options["trust"] = args.trust == "on"
    if args.prompt_history is not None:
        options["prompt_history"] = args.prompt_history
    return options
