"""Queueing, cancellation, timeouts and concurrency of the model worker."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from _server_helpers import compat_body, make_client

from riffgen.diffusion.fake import FakePipeline
from riffgen.server import ModelWorker, WorkerPool
from riffgen.server.worker import JobCancelledError, JobTimeoutError, QueueFullError


def _slow_job(steps: int, step_s: float, log: list[int] | None = None):
    def job(pipe, check):
        for i in range(steps):
            time.sleep(step_s)
            if log is not None:
                log.append(i)
            check(i + 1, steps)
        return "done"

    return job


def test_full_queue_gives_503_with_retry_after():
    with make_client(FakePipeline(step_s=0.1), max_queue=2) as c:
        body = compat_body(num_inference_steps=10)  # ~1 s each
        with ThreadPoolExecutor(6) as ex:
            results = list(ex.map(lambda _: c.post("/run_inference/", json=body), range(6)))
        codes = sorted(r.status_code for r in results)
        assert codes.count(200) >= 2 and 503 in codes, codes
        assert all(code in (200, 503) for code in codes)
        busy = next(r for r in results if r.status_code == 503)
        assert int(busy.headers["retry-after"]) >= 1
        assert c.get("/api/v1/health").json()["workers"][0]["rejected"] >= 1


def test_concurrent_requests_are_serialised_and_all_succeed():
    pipe = FakePipeline(step_s=0.01)
    active, peak = [0], [0]
    lock = threading.Lock()
    original = pipe.text_to_audio

    def tracked(*a, **kw):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return original(*a, **kw)
        finally:
            with lock:
                active[0] -= 1

    pipe.text_to_audio = tracked
    with make_client(pipe, max_queue=8) as c:

        def call(i):
            return c.post(
                "/api/v1/text_to_audio",
                json={"prompt": f"p{i}", "seed": i, "width": 64, "num_inference_steps": 5},
            )

        with ThreadPoolExecutor(8) as ex:
            results = list(ex.map(call, range(8)))
    assert [r.status_code for r in results] == [200] * 8
    assert peak[0] == 1  # one model worker: never two inferences at once
    assert len({r.json()["audio"] for r in results}) == 8  # each got its own result


def test_two_devices_share_the_load():
    with make_client(FakePipeline(step_s=0.05), workers=2, max_queue=1) as c:
        body = compat_body(num_inference_steps=6)
        with ThreadPoolExecutor(2) as ex:
            results = list(ex.map(lambda _: c.post("/run_inference/", json=body), range(2)))
        assert [r.status_code for r in results] == [200, 200]
        workers = c.get("/api/v1/health").json()["workers"]
        assert [w["completed"] for w in workers] == [1, 1]


def test_request_timeout_gives_504_and_stops_the_work():
    pipe = FakePipeline(step_s=0.2)
    with make_client(pipe, request_timeout_s=0.5) as c:
        t = time.monotonic()
        r = c.post("/run_inference/", json=compat_body(num_inference_steps=50))
        assert r.status_code == 504
        assert time.monotonic() - t < 3
        time.sleep(0.5)
        health = c.get("/api/v1/health").json()["workers"][0]
        assert health["cancelled"] == 1 and health["queued"] == 0


def test_worker_cancels_when_client_disconnects():
    async def scenario():
        worker = ModelWorker(FakePipeline(), max_queue=2)
        steps: list[int] = []
        gone_at = time.monotonic() + 0.3

        async def disconnected():
            return time.monotonic() > gone_at

        with pytest.raises(JobCancelledError):
            await worker.run(
                _slow_job(100, 0.02, steps),
                timeout_s=30,
                name="t",
                is_disconnected=disconnected,
                poll_s=0.05,
            )
        await asyncio.sleep(0.2)
        worker.close()
        return steps, worker.stats

    steps, stats = asyncio.run(scenario())
    assert len(steps) < 40  # stopped within a few steps of the disconnect, not after 100
    assert stats.cancelled == 1 and stats.completed == 0


def test_worker_queue_bound_errors_and_close():
    async def scenario():
        worker = ModelWorker(FakePipeline(), max_queue=2)
        first = worker.submit(_slow_job(20, 0.02), timeout_s=10)
        second = worker.submit(_slow_job(1, 0.0), timeout_s=10)
        with pytest.raises(QueueFullError) as busy:
            worker.submit(_slow_job(1, 0.0), timeout_s=10)
        assert busy.value.retry_after_s >= 1
        assert await first.future == "done" and await second.future == "done"

        def boom(pipe, check):
            raise RuntimeError("model exploded")

        with pytest.raises(RuntimeError, match="exploded"):
            await worker.run(boom, timeout_s=5)
        with pytest.raises(JobTimeoutError):
            await worker.run(_slow_job(100, 0.02), timeout_s=0.2, poll_s=0.05)
        pending = worker.submit(_slow_job(50, 0.02), timeout_s=10)
        await asyncio.sleep(0.05)
        worker.close()
        with pytest.raises((JobCancelledError, Exception)):
            await pending.future
        return worker.stats

    stats = asyncio.run(scenario())
    assert stats.completed == 2 and stats.failed == 1 and stats.rejected == 1


def test_pool_refuses_when_all_workers_full():
    async def scenario():
        pool = WorkerPool(
            [ModelWorker(FakePipeline(), max_queue=1, device=f"d{i}") for i in range(2)]
        )
        jobs = [asyncio.ensure_future(pool.run(_slow_job(10, 0.02), timeout_s=5)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFullError):
            await pool.run(_slow_job(1, 0), timeout_s=5)
        assert await asyncio.gather(*jobs) == ["done", "done"]
        pool.close()

    asyncio.run(scenario())


def test_stream_jobs_skip_ahead_of_a_full_queue():
    """A jam stream's clip is accepted while one-shot requests fill the queue, and runs before
    the waiting ones (regression: 8 busy HTTP clients starved a jam socket for 37 s)."""

    async def scenario():
        worker = ModelWorker(FakePipeline(), max_queue=2)
        order: list[str] = []

        def job(tag: str, seconds: float):
            def fn(pipe, check):
                time.sleep(seconds)
                order.append(tag)
                return tag

            return fn

        running = worker.submit(job("running", 0.2), timeout_s=10)
        await asyncio.sleep(0.05)  # the worker thread has taken it
        waiting = worker.submit(job("waiting", 0.0), timeout_s=10)
        with pytest.raises(QueueFullError):
            worker.submit(job("refused", 0.0), timeout_s=10)
        streams = [
            worker.submit(job(f"stream{i}", 0.0), timeout_s=10, priority=True) for i in (1, 2)
        ]
        with pytest.raises(QueueFullError):  # priority jobs are bounded too
            worker.submit(job("stream3", 0.0), timeout_s=10, priority=True)
        await asyncio.gather(running.future, waiting.future, *(s.future for s in streams))
        worker.close()
        return order

    # After a stream job ran, a waiting request goes before the next stream job.
    assert asyncio.run(scenario()) == ["running", "stream1", "waiting", "stream2"]


def test_pool_passes_stream_jobs_past_full_workers():
    async def scenario():
        pool = WorkerPool([ModelWorker(FakePipeline(), max_queue=1)])
        busy = asyncio.ensure_future(pool.run(_slow_job(10, 0.02), timeout_s=5))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFullError):
            await pool.run(_slow_job(1, 0), timeout_s=5)
        assert await pool.run(_slow_job(1, 0), timeout_s=5, priority=True) == "done"
        assert await busy == "done"
        pool.close()

    asyncio.run(scenario())
