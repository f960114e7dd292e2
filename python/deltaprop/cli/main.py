"""The command-line entry point: argument parsing and turning errors into one line on stderr."""
from __future__ import annotations

import argparse
import sys
from typing import List, NoReturn, Optional

from .demo import add_demo
from .models import add_evaluate, add_predict, add_train
from .system import add_bench, add_info

__all__ = ["build_parser", "main"]

# Errors a user can cause (bad files, columns, shapes, options, a missing optional package):
# reported as one line, exit status 2. Anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError, FloatingPointError)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deltaprop", description="Fast multilayer perceptrons: train, predict, "
                                                    "evaluate, benchmark.")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for add in (add_demo, add_train, add_predict, add_evaluate, add_bench, add_info):
        add(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except USER_ERRORS as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"deltaprop {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndeltaprop: interrupted", file=sys.stderr)
        return 130
