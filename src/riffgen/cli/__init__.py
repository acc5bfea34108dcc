"""The ``riffgen`` command: parses arguments and delegates; one module per command group.

Each group module exposes ``register(subparsers)`` and sets ``func`` on its parsers; ``func``
takes the parsed namespace and returns an exit code. Errors a user can cause are raised as
:class:`RiffgenError` (or ValueError/OSError) and printed as one line with exit code 2.

Group modules import nothing heavy at import time (numpy, torch, PIL, the model libraries
load inside the command functions), so ``riffgen --help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from riffgen.cli._shared import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated
from riffgen.errors import RiffgenError

# Command groups, in help order. A group whose module is missing is skipped, so
# features can land independently.
GROUPS = ("audio", "diffusion", "endless", "batch", "server", "training", "decoder", "evaluation")

__all__ = ["EXIT_INTERRUPTED", "EXIT_TERMINATED", "Terminated", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with one line, like every other error
        self.exit(2, f"riffgen: error: {message} (see {self.prog} --help)\n")


def _version() -> str:
    from riffgen import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="riffgen", description="Music from text, via spectrogram diffusion.")
    parser.add_argument("--version", action="version", version=f"riffgen {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="let the model libraries print their notices"
    )
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


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt), so
    every command handles it like Ctrl-C. Main thread only: signal handlers cannot be set
    elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a parse error (already printed)
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with _sigterm_as_interrupt():
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            print(f"riffgen: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
            return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        except (RiffgenError, ValueError, OSError, OverflowError, MemoryError) as exc:
            print(f"riffgen: error: {_one_line(exc)}", file=sys.stderr)
            return 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
