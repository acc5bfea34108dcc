"""Serving throughput on Ray: 1 vs 2 model replicas under the same concurrent clients, in one run.

    .venv/bin/python bench/bench_serve_ray.py [--model mini] [--clients 8] [--requests 2]
                                              [--steps 8] [--cpus 2]

One local Ray cluster (``ray.init(num_cpus=2)`` by default) serves the app of ``riffgen serve
--ray`` (:func:`riffgen.server.ray_serve.deploy`) with 1 replica, then with 2 (one CPU and one
torch thread each). For each, after one warm-up request per replica, ``--clients`` threads
each POST ``--requests`` requests of the original API (``/run_inference/``: og_beat, 5.11 s
clips, ``--steps`` steps, MP3 + JPEG answers) one after another. Reported per configuration:
wall time, clips per minute, median and 90th-percentile latency, and the replicas' median
call time. The same request must get the same bytes from both configurations. Prints JSON
(with the load average: on a shared machine it moves every figure).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import time

import httpx

from riffgen.server.live import free_port


def request_body(i: int, steps: int) -> dict:
    return {
        "alpha": 0.25,
        "num_inference_steps": steps,
        "seed_image_id": "og_beat",
        "start": {"prompt": f"lofi hip hop beat {i}", "seed": i, "denoising": 0.75, "guidance": 7},
        "end": {
            "prompt": f"lofi hip hop beat {i}",
            "seed": i + 1,
            "denoising": 0.75,
            "guidance": 7,
        },
    }


def wait_running(url: str, replicas: int, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            workers = httpx.get(f"{url}/api/v1/health", timeout=5).json()["workers"]
            if sum(w.get("state") == "RUNNING" for w in workers) == replicas:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(1)
    raise SystemExit(f"{replicas} replicas not running after {timeout_s} s")


def post(url: str, body: dict) -> tuple[float, int, bytes]:
    began = time.perf_counter()
    answer = httpx.post(f"{url}/run_inference/", json=body, timeout=900)
    return time.perf_counter() - began, answer.status_code, answer.content


def measure(url: str, *, replicas: int, clients: int, requests: int, steps: int) -> dict:
    """Warm up each replica, then ``clients`` threads send ``requests`` requests each."""
    with concurrent.futures.ThreadPoolExecutor(replicas) as pool:
        list(pool.map(lambda i: post(url, request_body(1000 + i, steps)), range(replicas)))

    def client(c: int) -> list[tuple[float, int, bytes]]:
        return [post(url, request_body(c * requests + r, steps)) for r in range(requests)]

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [x for per_client in pool.map(client, range(clients)) for x in per_client]
    wall = time.perf_counter() - began
    latencies = sorted(r[0] for r in results)
    health = httpx.get(f"{url}/api/v1/health", timeout=10).json()["workers"]
    calls = [w["typical_job_s"] for w in health if "replica" in w and w["completed"]]
    return {
        "replicas": replicas,
        "requests": len(results),
        "failed": sum(r[1] != 200 for r in results),
        "wall_s": round(wall, 1),
        "clips_per_min": round(60 * len(results) / wall, 2),
        "median_latency_s": round(statistics.median(latencies), 2),
        "p90_latency_s": round(latencies[int(0.9 * (len(latencies) - 1))], 2),
        "median_call_s": round(statistics.median(calls), 2) if calls else None,
        "first_answer": results[0][2],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mini", help="mini (default), debug, fake, a folder, ...")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2, help="requests per client")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = ap.parse_args()

    import ray

    from riffgen.server.config import ServerConfig
    from riffgen.server.ray_serve import ModelSpec, ReplicaOptions, deploy, undeploy

    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spec = ModelSpec(args.model, threads=1)
    # Room for every client's request at once: the bench measures throughput, not refusals.
    config = ServerConfig(model_name=args.model, max_queue=args.clients, request_timeout_s=900)
    rows = []
    try:
        for replicas in (1, 2):
            began = time.perf_counter()
            deploy(spec, ReplicaOptions(replicas=replicas), config, host="127.0.0.1", port=port)
            wait_running(url, replicas)
            startup = time.perf_counter() - began
            row = measure(
                url,
                replicas=replicas,
                clients=args.clients,
                requests=args.requests,
                steps=args.steps,
            )
            row["startup_s"] = round(startup, 1)
            rows.append(row)
            undeploy(started_cluster=False)  # the app only: the next one reuses the proxy
    finally:
        undeploy(started_cluster=True)
        ray.shutdown()
    same = rows[0].pop("first_answer") == rows[1].pop("first_answer")
    one, two = rows
    print(
        json.dumps(
            {
                "model": args.model,
                "steps": args.steps,
                "clients": args.clients,
                "cluster_cpus": args.cpus,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "runs": rows,
                "speedup_2_vs_1": round(two["clips_per_min"] / one["clips_per_min"], 2),
                "same_bytes": same,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
