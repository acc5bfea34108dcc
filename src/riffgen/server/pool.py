"""Several model workers (one per device) behind one ``run`` call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from riffgen.server.worker import JobFn, ModelWorker, QueueFullError


class WorkerPool:
    """Dispatches each job to the least-busy worker; refuses when every queue is full."""

    def __init__(self, workers: Sequence[ModelWorker]) -> None:
        if not workers:
            raise ValueError("a worker pool needs at least one worker")
        self.workers = list(workers)

    @property
    def spectrogram_params(self):
        return self.workers[0].pipeline.spectrogram_params

    @property
    def default_steps(self) -> int:
        """The denoising steps the served model recommends (its ``riffgen.json``; else 50)."""
        from riffgen.diffusion.types import steps_for

        return steps_for(self.workers[0].pipeline, None)

    def _pick(self, *, priority: bool = False) -> ModelWorker:
        worker = min(self.workers, key=lambda w: w.queued / w.max_queue)
        if worker.queued >= worker.max_queue and not priority:  # the worker bounds priority jobs
            worker.stats.rejected += 1
            raise QueueFullError(min(w.retry_after_s() for w in self.workers))
        return worker

    async def run(
        self,
        fn: JobFn,
        *,
        timeout_s: float,
        name: str = "job",
        is_disconnected: Callable[[], Any] | None = None,
        priority: bool = False,
    ) -> Any:
        return await self._pick(priority=priority).run(
            fn, timeout_s=timeout_s, name=name, is_disconnected=is_disconnected, priority=priority
        )

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "device": w.device,
                "queued": w.queued,
                "max_queue": w.max_queue,
                "completed": w.stats.completed,
                "failed": w.stats.failed,
                "cancelled": w.stats.cancelled,
                "rejected": w.stats.rejected,
                "typical_job_s": round(w.stats.typical_job_s(), 3),
            }
            for w in self.workers
        ]

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
