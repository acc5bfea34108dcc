"""One model worker per device: a thread that owns the pipeline, fed by a bounded queue.

Inference is blocking and not thread-safe, so exactly one thread touches the pipeline; the
event loop only submits jobs and awaits their futures. A full queue is refused at once
(the HTTP layer turns that into 503 + Retry-After) rather than letting latency grow without
bound. Every job carries a cancel flag and a deadline that the per-step callback checks, so a
client that goes away or a timeout stops the work within one denoising step.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("riffgen.server")

# (pipeline, step_callback) -> result. The callback has the pipeline's signature
# ``callback(step, total)`` and raises JobCancelled when the job must stop.
JobFn = Callable[[Any, Callable[[int, int], None]], Any]


class QueueFullError(Exception):
    """The worker's queue is full; ``retry_after_s`` estimates when to try again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"server busy, retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class JobCancelledError(Exception):
    """Raised inside the worker (from the step callback) to abort a job."""


class JobTimeoutError(Exception):
    """The job ran past its deadline."""


class WorkerClosedError(Exception):
    """The worker was shut down."""


@dataclass
class Job:
    fn: JobFn
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    deadline: float
    name: str = "job"
    cancelled: threading.Event = field(default_factory=threading.Event)
    started_at: float | None = None
    priority: bool = False

    def cancel(self) -> None:
        """Ask the job to stop (before it starts or at its next step)."""
        self.cancelled.set()

    def check(self, step: int = 0, total: int = 0) -> None:
        """The pipeline's per-step callback: raise to abort."""
        if self.cancelled.is_set():
            raise JobCancelledError(f"{self.name} cancelled at step {step}/{total}")
        if time.monotonic() > self.deadline:
            raise JobTimeoutError(f"{self.name} ran past its deadline at step {step}/{total}")


@dataclass
class WorkerStats:
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    rejected: int = 0
    busy_s: float = 0.0
    recent_s: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=20))

    def typical_job_s(self) -> float:
        """Median of recent job durations (seconds); 5 s before any job ran."""
        return median_s(self.recent_s, default=5.0)


def median_s(durations: Collection[float], *, default: float) -> float:
    """The (upper) median of ``durations`` in seconds; ``default`` when there are none."""
    if not durations:
        return default
    ordered = sorted(durations)
    return ordered[len(ordered) // 2]


class ModelWorker:
    """Runs jobs one at a time on a dedicated thread that owns ``pipeline``.

    ``max_queue`` counts jobs waiting *and* running; submissions beyond it raise
    :class:`QueueFullError` immediately. ``priority`` jobs (a live jam stream's next clip:
    a listener hears silence if it waits) skip ahead of waiting one-shot requests and are
    refused only when ``max_queue`` priority jobs already wait, so busy HTTP clients cannot
    starve a stream.
    """

    def __init__(self, pipeline: Any, *, max_queue: int = 4, device: str = "cpu") -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.pipeline = pipeline
        self.max_queue = max_queue
        self.device = device
        self.stats = WorkerStats()
        self._pending: collections.deque[Job] = collections.deque()
        self._running: Job | None = None
        self._last_priority = False  # whether the last job taken was a priority job
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(
            target=self._loop, name=f"riffgen-worker-{device}", daemon=True
        )
        self._thread.start()

    # -- event-loop side ---------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Jobs waiting or running."""
        with self._cond:
            return len(self._pending) + (1 if self._running else 0)

    def retry_after_s(self) -> int:
        """Rough seconds until a slot frees up, for the Retry-After header."""
        return max(1, int(round(self.stats.typical_job_s() * max(1, self.queued) / 2)))

    def submit(
        self, fn: JobFn, *, timeout_s: float, name: str = "job", priority: bool = False
    ) -> Job:
        """Queue ``fn``; returns the job (await ``job.future``). Must run on the event loop."""
        loop = asyncio.get_running_loop()
        job = Job(
            fn=fn,
            future=loop.create_future(),
            loop=loop,
            name=name,
            deadline=time.monotonic() + timeout_s,
        )
        # Mark exceptions as retrieved: a job abandoned by its request still resolves later.
        job.future.add_done_callback(lambda f: f.cancelled() or f.exception())
        with self._cond:
            if self._closed:
                raise WorkerClosedError("worker is shut down")
            if priority:
                ahead = sum(1 for j in self._pending if j.priority)
                if ahead >= self.max_queue:
                    self.stats.rejected += 1
                    raise QueueFullError(self.retry_after_s())
                job.priority = True
                self._pending.insert(ahead, job)  # after earlier priority jobs, FIFO among them
            else:
                if len(self._pending) + (1 if self._running else 0) >= self.max_queue:
                    self.stats.rejected += 1
                    raise QueueFullError(self.retry_after_s())
                self._pending.append(job)
            self._cond.notify()
        return job

    async def run(
        self,
        fn: JobFn,
        *,
        timeout_s: float,
        name: str = "job",
        is_disconnected: Callable[[], Any] | None = None,
        poll_s: float = 0.25,
        priority: bool = False,
    ) -> Any:
        """Submit and await ``fn``; cancel it if ``is_disconnected()`` turns true or on timeout."""
        job = self.submit(fn, timeout_s=timeout_s, name=name, priority=priority)
        try:
            while True:
                done, _ = await asyncio.wait({job.future}, timeout=poll_s)
                if done:
                    return job.future.result()
                if time.monotonic() > job.deadline:
                    job.cancel()
                    raise JobTimeoutError(f"{name} timed out after {timeout_s:g} s")
                if is_disconnected is not None and await is_disconnected():
                    job.cancel()
                    raise JobCancelledError(f"{name}: client disconnected")
        except asyncio.CancelledError:
            job.cancel()
            raise

    def close(self, *, timeout_s: float = 5.0) -> None:
        """Stop accepting jobs, cancel the queued and running ones, join the thread."""
        with self._cond:
            self._closed = True
            pending = list(self._pending)
            self._pending.clear()
            if self._running:
                self._running.cancel()
            self._cond.notify_all()
        for job in pending:
            job.cancel()
            _resolve(job, exc=WorkerClosedError("server shutting down"))
        self._thread.join(timeout_s)

    # -- worker-thread side -------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._take_next()
                self._running = job
            try:
                self._execute(job)
            finally:
                with self._cond:
                    self._running = None

    def _take_next(self) -> Job:
        """The next job (lock held). Priority jobs wait at the front, but after one ran a
        waiting one-shot request goes first: a stream whose client acknowledges clips faster
        than real time cannot starve everyone else, and never waits behind more than one."""
        first = self._pending[0]
        if first.priority and self._last_priority:
            for index, job in enumerate(self._pending):
                if not job.priority:
                    del self._pending[index]
                    self._last_priority = False
                    return job
        self._pending.popleft()
        self._last_priority = first.priority
        return first

    def _execute(self, job: Job) -> None:
        if job.cancelled.is_set() or job.future.cancelled():
            self.stats.cancelled += 1
            _resolve(job, exc=JobCancelledError(f"{job.name} cancelled before it started"))
            return
        start = time.monotonic()
        job.started_at = start
        try:
            job.check()
            result = job.fn(self.pipeline, job.check)
        except (JobCancelledError, JobTimeoutError) as exc:
            self.stats.cancelled += 1
            log.info("%s stopped: %s", job.name, exc)
            _resolve(job, exc=exc)
        except BaseException as exc:  # noqa: BLE001 - delivered to the awaiting request
            self.stats.failed += 1
            _resolve(job, exc=exc)
        else:
            self.stats.completed += 1
            elapsed = time.monotonic() - start
            self.stats.recent_s.append(elapsed)
            _resolve(job, result=result)
        finally:
            self.stats.busy_s += time.monotonic() - start


def _resolve(job: Job, *, result: Any = None, exc: BaseException | None = None) -> None:
    def deliver() -> None:
        if job.future.done():
            return
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    # A closed loop means nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(deliver)
