"""Stand-in pipelines for the batch tests (shipped to Ray actors by value: see conftest)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from riffgen.diffusion.fake import FakePipeline


class CrashingFake(FakePipeline):
    """A fake that kills its own process on the prompt "crash" (a job that always kills its
    worker, as a segfault or the OOM killer would)."""

    def text_to_audio(self, prompt, **kwargs):
        if prompt == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        return super().text_to_audio(prompt, **kwargs)


class InterruptingFake(FakePipeline):
    """Ctrl-C on the prompt "stop", as when the user presses it during that job."""

    def text_to_audio(self, prompt, **kwargs):
        if prompt == "stop":
            raise KeyboardInterrupt
        return super().text_to_audio(prompt, **kwargs)


def write_jobs(path: Path, *lines: object) -> Path:
    """A JOBS.jsonl: dicts as JSON, strings as they are."""
    import json

    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def outputs(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` (names -> bytes), hidden ones included."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def started_under(pid: int) -> list[psutil.Process]:
    """The processes started by ``pid`` and their children: the Ray cluster a driver started
    (GCS, raylet, workers), told apart from other Ray clusters on the machine."""
    return psutil.Process(pid).children(recursive=True)


def still_running(processes: list[psutil.Process], timeout: float = 20.0) -> list[str]:
    """Those of ``processes`` alive after ``timeout`` seconds, as command lines."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [" ".join(p.cmdline())[:120] for p in alive if p.is_running()]
