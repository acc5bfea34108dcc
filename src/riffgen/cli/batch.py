"""CLI group for batch jobs: ``riffgen batch JOBS.jsonl -o DIR --model M``.

Parses and delegates to :mod:`riffgen.batch`; nothing heavy is imported at module level.
"""

from __future__ import annotations

import argparse
import sys

from riffgen.cli import _shared


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch",
        help="run many jobs (one JSON object a line) into a folder, resumable",
        description=(
            "Run every job of JOBS.jsonl (one JSON object a line: generate by default, or "
            '"mode": transform, inpaint, interpolate, jam, with their parameters; "id" names '
            "the outputs, else the line number). Writes DIR/ID.wav, ID.png and ID.json per job. "
            "A rerun skips the jobs already done; a bad line is reported and the others run. "
            "Exit status 1 when any job failed. See docs/batch.md."
        ),
    )
    p.add_argument("jobs", metavar="JOBS.jsonl", help="the jobs, one JSON object a line")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    _shared.add_model_flags(p)
    _shared.add_verbosity(p)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from riffgen.batch.run import RunSettings, run_batch
    from riffgen.errors import RiffgenError

    if not Path(args.jobs).is_file():
        raise RiffgenError(f"jobs file not found: {args.jobs}")
    _shared.check_model_flags(args)
    if args.model != "fake":
        from riffgen.outputs import quiet_libraries

        quiet_libraries(verbose=_shared.verbose(args))
    settings = RunSettings(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        lora=args.lora,
        lora_scale=args.lora_scale,
        scheduler=args.scheduler,
    )
    report = run_batch(args.jobs, args.output, settings, quiet=args.quiet)
    if not args.quiet or report.failed or report.interrupted is not None:
        print(report.summary(), file=sys.stderr)
    if report.interrupted is not None:
        raise report.interrupted  # riffgen's main: exit 130 (Ctrl-C) or 143 (SIGTERM)
    return report.exit_code
