"""The batch on a Ray cluster: the jobs through Ray Data, the model loaded once per actor.

Each job is one block of a ``ray.data.from_items`` dataset, mapped by ``map_batches`` with
:class:`JobActor` (a callable class: its constructor loads the pipeline, each call runs one
job with :func:`riffgen.batch.run.run_one`, exactly as the local loop does, so both write the
same bytes). Actors write their outputs straight into the output folder, so a finished clip is
on disk before its result reaches the driver: an actor that dies loses only the job it was
making. Ray restarts the actor and retries its tasks (a retried job whose outputs are already
there is skipped); a job that kills its actor every time is given up after ``max_attempts``
attempts and reported as failed, so the batch ends instead of hanging. On a cluster of
several machines the output folder must be shared storage that every node writes to.

Ray is imported inside the functions: it is an optional extra (``riffgen[ray]``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riffgen.batch.jobs import Job
from riffgen.batch.run import JobResult, Runner, RunSettings, run_one
from riffgen.errors import RiffgenError

MAX_ATTEMPTS = 3  # a job that kills its actor three times is reported, not retried forever
MARKERS = ".riffgen-batch"  # attempt counters, in the output folder (every node sees it)


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide: ``address`` of a cluster (None: ``RAY_ADDRESS`` or a new local one),
    ``workers`` actors (None: from the cluster's GPUs or CPUs), resources per actor."""

    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float | None = None  # None: 1 when the cluster has GPUs, else 0
    max_attempts: int = MAX_ATTEMPTS


class JobActor:
    """One Ray actor: loads the pipeline once, then runs the jobs Ray Data sends it (each row
    carries its job as JSON, so the actor's constructor arguments stay small)."""

    def __init__(self, out_dir: str, settings: RunSettings, max_attempts: int) -> None:
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.max_attempts = max_attempts
        if settings.threads is not None:
            import torch

            torch.set_num_threads(settings.threads)
        self.pipe = settings.load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        results = [self.run(Job.from_json(str(text))) for text in batch["job"]]
        return {
            "line": [r.line for r in results],
            "status": [r.status for r in results],
            "error": [r.error or "" for r in results],
            "seconds": [r.seconds for r in results],
            "worker": [r.worker or 0 for r in results],
        }

    def run(self, job: Job) -> JobResult:
        """:func:`run_one`, counting attempts in a marker file beside the outputs.

        Ray Data restarts a dead actor and retries its tasks without end; the marker outlives
        the actor, so a job that has killed ``max_attempts`` actors fails instead of being
        retried forever (a hang). It is removed once the job ends either way.
        """
        marker = attempts_marker(self.out_dir, job)
        attempts = _read_count(marker)
        if attempts >= self.max_attempts:
            marker.unlink(missing_ok=True)
            error = f"its worker died {attempts} time{'s' if attempts > 1 else ''} while making it"
            return JobResult(job.line, job.id, "failed", error, worker=os.getpid())
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(attempts + 1))
        result = run_one(self.pipe, job, self.out_dir, self.settings)
        marker.unlink(missing_ok=True)
        return result


def attempts_marker(out_dir: Path, job: Job) -> Path:
    return out_dir / MARKERS / f"{job.id}.attempts"


def _read_count(marker: Path) -> int:
    try:
        return int(marker.read_text())
    except (OSError, ValueError):  # none yet, or cut short by the death it counts
        return 0


def _resources(options: RayOptions) -> tuple[int, float, float]:
    """(actors, CPUs each, GPUs each), from the options or what the cluster has."""
    import ray

    cluster = ray.cluster_resources()
    gpus = options.gpus_per_worker
    if gpus is None:
        gpus = 1.0 if cluster.get("GPU", 0) >= 1 else 0.0
    workers = options.workers
    if workers is None:
        if gpus > 0:
            workers = int(cluster.get("GPU", 0) // gpus)
        else:
            per_worker = options.cpus_per_worker if options.cpus_per_worker > 0 else 1.0
            workers = int(cluster.get("CPU", 1) // per_worker)
    return max(workers, 1), options.cpus_per_worker, gpus


@contextlib.contextmanager
def ray_cluster(address: str | None = None) -> Iterator[None]:
    """Connect to Ray (``address``, else ``RAY_ADDRESS``, else a new local cluster); a cluster
    this call started is shut down at the end, one that was already connected is left be."""
    try:
        import ray
    except ImportError:
        raise RiffgenError("--ray needs Ray: pip install 'riffgen[ray]'") from None
    if ray.is_initialized():
        yield
        return
    # Ray's core worker installs its own SIGTERM handler (a stack dump, then death), which
    # would cut the batch short without its summary: riffgen's handler is put back.
    main_thread = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # Actors print to their own logs, not through the driver's progress bar.
    ray.init(address=address, log_to_driver=False, include_dashboard=False, logging_level="ERROR")
    if main_thread:
        _SAVED_HANDLERS.update({s: h for s, h in handlers.items() if h is not None})
        keep_handlers()
    try:
        yield
    finally:
        _SAVED_HANDLERS.clear()
        ray.shutdown()


_SAVED_HANDLERS: dict[int, Any] = {}


def keep_handlers() -> None:
    """Put riffgen's SIGINT/SIGTERM handlers back where Ray replaced them (ray.init does, and
    a later start of Ray's executors may again): Ctrl-C must end the batch with its summary."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in _SAVED_HANDLERS.items():
        if signal.getsignal(signum) is not handler:
            signal.signal(signum, handler)


def run_ray(
    jobs: list[Job], out_dir: Path, settings: RunSettings, options: RayOptions
) -> Iterator[JobResult]:
    """The jobs on the connected Ray cluster (see :func:`ray_cluster`), results as they end."""
    if not jobs:
        return
    import ray.data

    # Ray Data logs each execution's start, end and settings: riffgen's bar says enough.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    workers, cpus, gpus = _resources(options)
    if settings.threads is None:  # as many as the CPUs Ray gives each actor
        settings = dataclasses.replace(settings, threads=max(1, int(cpus)))
    rows = [{"job": job.to_json()} for job in jobs]
    _remove_markers(out_dir, jobs)  # a new run gives every job a fresh budget of attempts
    # One block per job: a job's result streams back as soon as it is done, and an actor's
    # death re-runs only the jobs it held (Ray Data restarts actors and retries their tasks).
    ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        JobActor,
        fn_constructor_kwargs={
            "out_dir": str(out_dir),
            "settings": settings,
            "max_attempts": options.max_attempts,
        },
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(
            size=min(workers, len(jobs)), max_tasks_in_flight_per_actor=1
        ),
        num_cpus=cpus,
        num_gpus=gpus,
    )
    ctx = ds.context
    ctx.enable_progress_bars = False  # riffgen's own bar counts jobs
    ctx.print_on_execution_start = False
    ctx.max_errored_blocks = -1  # a job lost with its actor is reported, the others go on
    ids = {job.line: job.id for job in jobs}
    try:
        # Block by block with no prefetching: iter_rows() would hold a finished job's result
        # back until the next block is also done (the progress bar would lag a whole job).
        for batch in ds.iter_batches(batch_size=None, prefetch_batches=0):
            keep_handlers()
            for i, line in enumerate(batch["line"]):
                yield JobResult(
                    line=int(line),
                    id=ids[int(line)],
                    status=str(batch["status"][i]),  # type: ignore[arg-type]
                    error=str(batch["error"][i]) or None,
                    seconds=float(batch["seconds"][i]),
                    worker=int(batch["worker"][i]) or None,
                )
    except ray.exceptions.RayError as exc:
        cause = " ".join(str(exc).split())[:500]
        raise RiffgenError(f"the Ray batch failed: {cause}") from None
    finally:
        _remove_markers(out_dir, jobs)


def _remove_markers(out_dir: Path, jobs: list[Job]) -> None:
    """Attempt counters of ``jobs`` and their folder (when empty): a new run starts afresh."""
    for job in jobs:
        attempts_marker(out_dir, job).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        (out_dir / MARKERS).rmdir()


def ray_runner(options: RayOptions) -> Runner:
    """A runner for :func:`riffgen.batch.run.run_batch` that connects, runs, disconnects."""

    def run(jobs: list[Job], out_dir: Path, settings: RunSettings) -> Iterator[JobResult]:
        if not jobs:
            return
        with ray_cluster(options.address):
            yield from run_ray(jobs, out_dir, settings, options)

    return run
