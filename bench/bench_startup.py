"""How much a ``riffgen`` process costs beyond the work it does (issue #11.3).

    .venv/bin/python bench/bench_startup.py              # ~2-3 min on 2 idle cores
    .venv/bin/python bench/bench_startup.py --repeats 1  # one run of each generation

Measures, in one run:

1. ``riffgen --help``: wall time, median of ``--help-runs`` (5) fresh processes. Goal: < 1 s.
2. ``riffgen generate "a slow sad violin melody" --model mini --steps 20 -o OUT -q`` as a whole
   process (interpreter start, imports, model load, generation, writing OUT/.png/.json)
   against the same generation in this process (the model loaded once, then
   ``pipe.text_to_audio(prompt, num_inference_steps=20)`` timed). The ratio of the two is the
   price of starting a process per clip. Goal: at most 2x. Runs alternate (process,
   in-process, ...) and medians are reported, wall time and CPU time (user + system; on a
   shared machine the CPU time is the steadier figure).

The whole process runs with ``-q``: its stderr must be empty (no library notices); any line it
prints is shown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "a slow sad violin melody"
STEPS = 20
RIFFGEN = [sys.executable, "-m", "riffgen"]


def child_cpu() -> float:
    """CPU seconds (user + system) of all reaped children so far."""
    usage = os.times()
    return usage.children_user + usage.children_system


def run_process(argv: list[str]) -> tuple[float, float, int, str]:
    """(wall s, CPU s, exit code, stderr) of one fresh process."""
    cpu0, start = child_cpu(), time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - start, child_cpu() - cpu0, proc.returncode, proc.stderr


def time_help(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        wall, _, code, err = run_process([*RIFFGEN, "--help"])
        if code != 0:
            raise SystemExit(f"riffgen --help failed ({code}): {err.strip()}")
        times.append(wall)
    return times


def time_whole_process(out: Path) -> tuple[float, float, str]:
    argv = [*RIFFGEN, "generate", PROMPT, "--model", "mini", "--steps", str(STEPS), "-q"]
    wall, cpu, code, err = run_process([*argv, "-o", str(out)])
    if code != 0:
        raise SystemExit(f"riffgen generate failed ({code}): {err.strip()}")
    return wall, cpu, err


def time_in_process(pipe) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    pipe.text_to_audio(PROMPT, seed=0, num_inference_steps=STEPS)
    return time.perf_counter() - wall0, time.process_time() - cpu0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--help-runs", type=int, default=5, help="riffgen --help runs (5)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each generation (2)")
    args = p.parse_args()

    helps = time_help(args.help_runs)
    help_s = statistics.median(helps)
    print(
        f"riffgen --help: median {help_s:.3f} s over {len(helps)} runs "
        f"(min {min(helps):.3f}, max {max(helps):.3f}); goal < 1 s: "
        + ("met" if help_s < 1 else "NOT met")
    )

    from riffgen.diffusion import load_pipeline
    from riffgen.outputs import quiet_libraries

    quiet_libraries()
    start = time.perf_counter()
    pipe = load_pipeline("mini")
    load_s = time.perf_counter() - start
    print(f"in-process: mini loaded once in {load_s:.2f} s ({pipe.device}, {pipe.dtype})")

    whole: list[tuple[float, float]] = []
    inner: list[tuple[float, float]] = []
    noise: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            wall, cpu, err = time_whole_process(Path(tmp) / f"x{i}.wav")
            whole.append((wall, cpu))
            noise.update(line for line in err.splitlines() if line.strip())
            inner.append(time_in_process(pipe))
    w_wall = statistics.median(w for w, _ in whole)
    w_cpu = statistics.median(c for _, c in whole)
    i_wall = statistics.median(w for w, _ in inner)
    i_cpu = statistics.median(c for _, c in inner)
    print(f'generate "{PROMPT}" --model mini --steps {STEPS} ({args.repeats} runs each, medians):')
    print(f"  whole process    {w_wall:6.2f} s wall  {w_cpu:6.2f} s CPU")
    print(f"  in-process call  {i_wall:6.2f} s wall  {i_cpu:6.2f} s CPU")
    ratio = w_wall / i_wall
    print(
        f"  ratio            {ratio:6.2f}x wall  {w_cpu / i_cpu:5.2f}x CPU; goal <= 2x: "
        + ("met" if ratio <= 2 else "NOT met")
    )
    print(f"  start-up + load + write: {w_wall - i_wall:.2f} s wall per process")
    if noise:
        print(f"  stderr of the -q process ({len(noise)} distinct lines, should be none):")
        for line in sorted(noise)[:10]:
            print(f"    {line[:160]}")
    else:
        print("  stderr of the -q process: empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
