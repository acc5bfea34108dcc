"""Batch throughput: the same jobs locally and through Ray Data with 1 and 2 workers, in one run.

    .venv/bin/python bench/bench_batch.py [--model mini] [--jobs 8] [--steps 20] [--width 512]

One local Ray cluster (``ray.init(num_cpus=2)`` by default) runs the jobs with 1 worker, then
with 2 (each with one CPU and one torch thread); a local run with one thread comes first, as
the reference the Ray outputs must equal byte for byte. Times are end to end: from dispatch to
the last clip, model loading in each actor included (``first_clip_s`` shows that part). Prints
JSON; the load average is printed too, since on a shared machine it moves every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from riffgen.batch.jobs import read_jobs
from riffgen.batch.ray_runner import RayOptions, run_ray
from riffgen.batch.run import RunSettings, run_local


def timed(results, jobs: int, workers: int = 1) -> dict:
    """Drain a runner's results: wall time, time to the first clip, clips per minute end to
    end and after warm-up (from the moment every worker has made its first clip: loading the
    model is left out)."""
    began = time.perf_counter()
    arrivals, seconds, failed = [], [], 0
    for result in results:
        arrivals.append(time.perf_counter() - began)
        seconds.append(result.seconds)
        failed += result.status == "failed"
    wall = arrivals[-1] if arrivals else 0.0
    return {
        "jobs": jobs,
        "failed": failed,
        "wall_s": round(wall, 2),
        "first_clip_s": round(arrivals[0], 2) if arrivals else None,
        "clips_per_min": round(60 * len(arrivals) / wall, 2) if wall else None,
        "median_job_s": round(statistics.median(seconds), 2) if seconds else None,
        "warm_clips_per_min": _warm_rate(arrivals, workers),
    }


def _warm_rate(arrivals: list[float], workers: int) -> float | None:
    warm = arrivals[workers - 1 :]
    if len(warm) < 2 or warm[-1] <= warm[0]:
        return None
    return round(60 * (len(warm) - 1) / (warm[-1] - warm[0]), 2)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mini", help="mini (default), debug, fake, a folder, ...")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = ap.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    lines = [
        {
            "prompt": f"lofi hip hop beat number {i}",
            "seed": i,
            "steps": args.steps,
            "width": args.width,
            "id": f"clip{i:02d}",
        }
        for i in range(args.jobs)
    ]
    (work / "jobs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    jobs, errors = read_jobs(work / "jobs.jsonl")
    assert not errors, errors
    settings = RunSettings(model=args.model, device="cpu", threads=1)
    report: dict = {
        "model": args.model,
        "steps": args.steps,
        "width": args.width,
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        out = work / "local"
        out.mkdir()
        report["local_1_thread"] = timed(run_local(jobs, out, settings), len(jobs))
        ray.init(
            num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
        )
        try:
            for workers in (1, 2):
                out = work / f"ray{workers}"
                out.mkdir()
                runs = run_ray(jobs, out, settings, RayOptions(workers=workers))
                name = f"ray_{workers}_worker{'s' if workers > 1 else ''}"
                report[name] = timed(runs, len(jobs), workers)
        finally:
            ray.shutdown()
        local = folder_bytes(work / "local")
        report["same_bytes_as_local"] = {
            name: folder_bytes(work / name) == local for name in ("ray1", "ray2")
        }
        one, two = report["ray_1_worker"], report["ray_2_workers"]
        report["speedup_2_vs_1_workers"] = {
            "end_to_end": round(one["wall_s"] / two["wall_s"], 2),
            "warm": round(two["warm_clips_per_min"] / one["warm_clips_per_min"], 2)
            if one["warm_clips_per_min"] and two["warm_clips_per_min"]
            else None,
        }
        report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
