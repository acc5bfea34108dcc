"""A real ``riffgen serve`` process on 127.0.0.1, for the browser tests and the benchmarks.

The server runs in a subprocess (not a thread of the caller) so that what it measures is
exactly what a user gets, CLI wiring included, and so that its memory can be read on its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LiveServer", "free_port", "live_server"]

STARTUP_TIMEOUT_S = 90.0  # the debug model is built at startup; the fake one starts in ~3 s


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str  # e.g. http://127.0.0.1:40123
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_bytes(self) -> int:
        """Resident memory of the server process (Linux /proc), in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")


@contextmanager
def live_server(
    work_dir: Path,
    *,
    model: str = "fake",
    args: Sequence[str] = (),
    threads: int | None = 1,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[LiveServer]:
    """Start ``riffgen serve --model MODEL ARGS`` on a free loopback port; stop it on exit.

    ``work_dir`` holds the server's log and temporary files. ``threads``: the server's math
    threads (the tests share 2 cores with a browser and clients, and oversubscribed torch
    threads made a Griffin-Lim decode 5x slower there); None leaves torch's default.
    """
    port = free_port()
    log_path = Path(work_dir) / f"server-{port}.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TMPDIR": str(work_dir),  # the debug model is written to a temporary folder
    }
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.pop("RIFFGEN_API_KEY", None)
    cmd = [sys.executable, "-m", "riffgen", "serve", "--model", model]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "info", *args]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_healthy(server, startup_timeout_s)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly on SIGINT
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_healthy(server: LiveServer, timeout_s: float) -> None:
    # No proxy from the environment: the server is on loopback. (urllib, not httpx: httpx is
    # only a dev dependency, and this module ships in the package.)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            with opener.open(f"{server.url}/api/v1/health", timeout=2.0) as health:
                if health.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {timeout_s:g} s:\n{server.log()}")
