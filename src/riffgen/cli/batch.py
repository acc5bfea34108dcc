"""CLI group for batch jobs: ``riffgen batch JOBS.jsonl -o DIR --model M [--ray]``.

Parses and delegates to :mod:`riffgen.batch`; nothing heavy is imported at module level.
"""

from __future__ import annotations

import argparse
import sys

from riffgen.cli import _shared


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch",
        help="run many jobs (one JSON object a line) into a folder, resumable; --ray for a cluster",
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
    _shared.add_decoder_flag(p)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch CPU threads per model (default 1, with --ray --cpus-per-worker): on a CPU "
        "the last bits of a result depend on it, so runs with the same N write the same bytes",
    )
    ray = p.add_argument_group("Ray (pip install 'riffgen[ray]')")
    ray.add_argument("--ray", action="store_true", help="run the jobs through Ray Data")
    ray.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="Ray cluster (default: RAY_ADDRESS or a new local one)",
    )
    ray.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="actors, each with its own model "
        "(default: one per GPU, else one per --cpus-per-worker CPUs)",
    )
    ray.add_argument(
        "--cpus-per-worker", type=_shared.finite_float, default=None, metavar="C", help="default 1"
    )
    ray.add_argument(
        "--gpus-per-worker",
        type=_shared.finite_float,
        default=None,
        metavar="G",
        help="default 1 on a cluster with GPUs, else 0",
    )
    _shared.add_verbosity(p)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from riffgen.batch.run import RunSettings, run_batch
    from riffgen.models.registry import classify

    _check_flags(args)
    _shared.check_model_flags(args)
    classify(args.model)  # a model path that is not there fails now, not in every worker
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
        threads=args.threads or _default_threads(args),
        decoder=args.decoder,
    )
    if args.ray:
        from riffgen.batch.ray_runner import RayOptions, ray_runner

        options = RayOptions(
            address=args.address,
            workers=args.workers,
            cpus_per_worker=1.0 if args.cpus_per_worker is None else args.cpus_per_worker,
            gpus_per_worker=args.gpus_per_worker,
        )
        report = run_batch(
            args.jobs, args.output, settings, runner=ray_runner(options), quiet=args.quiet
        )
    else:
        report = run_batch(args.jobs, args.output, settings, quiet=args.quiet)
    if not args.quiet or report.failed or report.interrupted is not None:
        print(report.summary(), file=sys.stderr)
    if report.interrupted is not None:
        raise report.interrupted  # riffgen's main: exit 130 (Ctrl-C) or 143 (SIGTERM)
    return report.exit_code


def _default_threads(args: argparse.Namespace) -> int:
    """One thread, or with --ray the CPUs each worker gets: a local run and a Ray run with
    their defaults write the same bytes."""
    cpus = args.cpus_per_worker if args.ray and args.cpus_per_worker is not None else 1.0
    return max(1, int(cpus))


def _check_flags(args: argparse.Namespace) -> None:
    """Every flag checked before anything loads."""
    from pathlib import Path

    from riffgen.errors import RiffgenError

    if not Path(args.jobs).is_file():
        raise RiffgenError(f"jobs file not found: {args.jobs}")
    ray_only = {
        "--address": args.address,
        "--workers": args.workers,
        "--cpus-per-worker": args.cpus_per_worker,
        "--gpus-per-worker": args.gpus_per_worker,
    }
    given = [flag for flag, value in ray_only.items() if value is not None]
    if given and not args.ray:
        raise RiffgenError(f"{', '.join(given)}: only with --ray")
    if args.workers is not None:
        _shared.check_range("--workers", args.workers, 1, 4096)
    if args.threads is not None:
        _shared.check_range("--threads", args.threads, 1, 1024)
    if args.cpus_per_worker is not None:
        _shared.check_range("--cpus-per-worker", args.cpus_per_worker, 0, 1024)
    if args.gpus_per_worker is not None:
        _shared.check_range("--gpus-per-worker", args.gpus_per_worker, 0, 64)
