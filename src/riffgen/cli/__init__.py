"""The ``riffgen`` command: parses arguments and delegates; one module per command group.

Each group module exposes ``register(subparsers)`` and sets ``func`` on its parsers; ``func``
takes the parsed namespace and returns an exit code. Errors a user can cause are raised as
:class:`RiffgenError` (or ValueError/OSError) and printed as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from riffgen import __version__
from riffgen.errors import RiffgenError

# Command groups, in help order. A group whose module is missing is skipped, so
# features can land independently.
GROUPS = ("audio", "diffusion", "endless", "server", "training", "decoder", "evaluation")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with one line, like every other error
        self.print_usage(sys.stderr)
        self.exit(2, f"riffgen: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="riffgen", description="Music from text, via spectrogram diffusion.")
    parser.add_argument("--version", action="version", version=f"riffgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for group in GROUPS:
        try:
            module = importlib.import_module(f"riffgen.cli.{group}")
        except ModuleNotFoundError as exc:
            if exc.name == f"riffgen.cli.{group}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("riffgen: interrupted", file=sys.stderr)
        return 130
    except (RiffgenError, ValueError, OSError) as exc:
        print(f"riffgen: error: {exc}", file=sys.stderr)
        return 2
