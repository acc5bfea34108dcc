"""Load test: 8 concurrent HTTP clients (and one jam stream) for 30 s against a live server.

The server (``riffgen serve --model fake`` on 127.0.0.1) has one worker with a queue of 4, so
8 clients overload it on purpose. The properties:

- no 5xx other than 503 "busy" with a Retry-After header, and no 4xx for valid requests;
- every kind of request keeps succeeding (the queue drains, nothing starves or hangs);
- the server's resident memory levels off after warm-up: its trend (a robust slope fitted to
  RSS samples), projected over the run, stays small next to the baseline; a leak per request
  would keep it growing.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import numpy as np
import pytest
from _server_helpers import compat_body, png_bytes, wav_bytes

from riffgen.server.live import live_server

pytestmark = pytest.mark.slow

CLIENTS = 8
WARMUP_S = 6.0
DURATION_S = 30.0
MAX_REQUESTS_PER_CLIENT = 2000  # a bound on the loop, whatever the server's speed
SAMPLE_EVERY_S = 0.5
# RSS climbs for a while under load (allocator arenas, caches, the jam's buffers) and then
# swings by ~100 MB with the requests in flight, so single samples or floors are noise: the
# trend is fitted to the samples after warm-up plus this settling time.
SETTLE_S = 10.0
MAX_PROJECTED_GROWTH = 0.10  # trend x DURATION_S, as a fraction of the baseline (median) RSS
MAX_RSS_PEAK_MB = 250.0  # above the least sample: buffers of the requests in flight


@dataclass
class Tally:
    """What the clients saw, shared between threads (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    jam_clips: int = 0

    def record(self, name: str, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[(name, response.status_code)] += 1
            ok = response.status_code == 200 or (
                response.status_code == 503 and response.headers.get("retry-after", "").isdigit()
            )
            if not ok:
                self.problems.append(f"{name}: {response.status_code} {response.text[:200]}")

    def error(self, name: str, exc: Exception) -> None:
        with self.lock:
            self.problems.append(f"{name}: {type(exc).__name__}: {exc}")


def _requests(wav: bytes, png: bytes):
    """(name, kwargs for httpx.Client.request) of every request the clients mix."""
    return [
        ("run_inference", {"method": "POST", "url": "/run_inference/", "json": compat_body(
            seed_image_id="beat_100", num_inference_steps=5)}),
        ("text_to_audio", {"method": "POST", "url": "/api/v1/text_to_audio", "json": {
            "prompt": "funk", "width": 256, "num_inference_steps": 5, "format": "ogg"}}),
        ("interpolate", {"method": "POST", "url": "/api/v1/interpolate",
                         "params": {"response": "audio"}, "json": {
            "start": {"prompt": "a"}, "end": {"prompt": "b", "seed": 3}, "alpha": 0.5,
            "num_inference_steps": 5, "seed_image_id": "beat_120", "format": "mp3"}}),
        ("audio_to_image", {"method": "POST", "url": "/api/v1/audio_to_image",
                            "files": {"file": ("a.wav", wav, "audio/wav")}}),
        ("audio_to_audio", {"method": "POST", "url": "/api/v1/audio_to_audio",
                            "files": {"file": ("a.wav", wav, "audio/wav")},
                            "data": {"prompt": "organ", "num_inference_steps": "5"}}),
        ("image_to_audio", {"method": "POST", "url": "/api/v1/image_to_audio",
                            "params": {"response": "audio"},
                            "files": {"image": ("s.png", png, "image/png")}}),
        ("health", {"method": "GET", "url": "/api/v1/health"}),
        ("seed_images", {"method": "GET", "url": "/api/v1/seed_images"}),
        ("seed_png", {"method": "GET", "url": "/api/v1/seed_images/beat_100.png"}),
    ]  # fmt: skip


def _client(base_url: str, index: int, deadline: float, tally: Tally, stop: threading.Event):
    requests = _requests(wav_bytes(1.0, sr=22050), png_bytes(64, 512, 140))
    rng = random.Random(index)
    with httpx.Client(base_url=base_url, timeout=60.0, trust_env=False) as http:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() > deadline or stop.is_set():
                return
            name, kwargs = rng.choice(requests)
            try:
                response = http.request(**kwargs)
            except httpx.HTTPError as exc:
                tally.error(name, exc)
                continue
            tally.record(name, response)
            if response.status_code == 503:  # a polite client waits a little, then retries
                time.sleep(min(float(response.headers["retry-after"]), 1.0) * rng.random())


def _jam_listener(ws_url: str, deadline: float, tally: Tally, stop: threading.Event) -> None:
    """One endless-player stream: reads clips and reports them played at once."""
    from websockets.sync.client import connect

    try:
        with connect(ws_url, max_size=2**24, open_timeout=30) as ws:
            ws.send(json.dumps({"type": "start", "prompts": ["jazz", "rock"], "buffer_ahead": 2,
                                "num_inference_steps": 3, "seed_image": "beat_100"}))  # fmt: skip
            while time.monotonic() < deadline and not stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=1.0))
                except TimeoutError:
                    continue
                if message["type"] == "clip":
                    with tally.lock:
                        tally.jam_clips += 1
                    ws.send(json.dumps({"type": "played", "seq": message["seq"]}))
                elif message["type"] == "error":
                    tally.problems.append(f"jam: {message}")
            ws.send(json.dumps({"type": "stop"}))
    except Exception as exc:  # noqa: BLE001 - reported as a failure of the test
        tally.error("jam", exc)


def test_eight_clients_for_thirty_seconds(tmp_path):
    with live_server(tmp_path, model="fake", args=("--max-queue", "4")) as server:
        tally = Tally()
        stop = threading.Event()
        begin = time.monotonic()
        deadline = begin + WARMUP_S + DURATION_S
        threads = [
            threading.Thread(target=_client, args=(server.url, i, deadline, tally, stop))
            for i in range(CLIENTS)
        ]
        ws_url = server.url.replace("http://", "ws://") + "/api/v1/jam"
        threads.append(threading.Thread(target=_jam_listener, args=(ws_url, deadline, tally, stop)))
        for thread in threads:
            thread.start()
        try:
            time.sleep(WARMUP_S)
            times, rss = [], []
            while time.monotonic() < deadline:
                times.append(time.monotonic() - begin)
                rss.append(server.rss_bytes())
                time.sleep(SAMPLE_EVERY_S)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=90)
        assert not any(t.is_alive() for t in threads), "a client hung"
        elapsed = time.monotonic() - begin

        # Still healthy afterwards, and the queue drains (a cancelled jam job may still finish).
        for _ in range(50):
            health = httpx.get(f"{server.url}/api/v1/health", trust_env=False, timeout=10).json()
            if health["workers"][0]["queued"] == 0:
                break
            time.sleep(0.1)
        log = server.log()

    t, mb = np.array(times), np.array(rss) / 2**20
    window = t >= WARMUP_S + SETTLE_S
    slope = _leak_slope(t[window], mb[window])  # MB/s
    baseline = float(np.median(mb[window]))
    total = sum(tally.statuses.values())
    print(
        f"\n{total} requests in {elapsed:.0f} s; statuses {dict(tally.statuses)}; "
        f"jam clips {tally.jam_clips}; worker {health['workers'][0]}; "
        f"RSS baseline {baseline:.0f} MB, trend {slope:+.2f} MB/s; "
        f"RSS MB {[round(x) for x in mb]}"
    )
    assert not tally.problems, tally.problems[:10]
    names = {name for name, _ in _requests(b"", b"")}
    succeeded = {name for (name, status), n in tally.statuses.items() if status == 200 and n}
    assert succeeded == names, f"never succeeded: {names - succeeded}"
    assert tally.jam_clips >= 2
    assert health["workers"][0]["queued"] == 0 and health["workers"][0]["failed"] == 0
    assert "Traceback" not in log, log[-4000:]
    projected = slope * DURATION_S
    assert projected < MAX_PROJECTED_GROWTH * baseline, (
        f"RSS trend {slope:+.2f} MB/s would grow {projected:.0f} MB in {DURATION_S:.0f} s"
        f" (baseline {baseline:.0f} MB): {mb.round().tolist()}"
    )
    peak = mb.max() - mb.min()
    assert peak < MAX_RSS_PEAK_MB, f"RSS swung by {peak:.0f} MB: {mb.round().tolist()}"


def _leak_slope(t: np.ndarray, mb: np.ndarray) -> float:
    """The lesser trend of the two halves of the samples.

    A leak grows all the time, so both halves show it; a one-off step of the heap (seen: +155 MB
    once, then flat for the rest of the run) lies in at most one half.
    """
    half = len(t) // 2
    return min(_robust_slope(t[:half], mb[:half]), _robust_slope(t[half:], mb[half:]))


def _robust_slope(t: np.ndarray, y: np.ndarray) -> float:
    """Theil-Sen slope: the median of the slopes between every pair of samples.

    A few samples taken while large requests were in flight move a least-squares fit a lot,
    this one hardly; a steady leak moves every pair, so it shows in the median.
    """
    i, j = np.triu_indices(len(t), k=1)
    return float(np.median((y[j] - y[i]) / (t[j] - t[i])))


def test_leak_slope_sees_a_leak_not_a_step():
    t = np.arange(16.0, 36.0, SAMPLE_EVERY_S)
    flat = np.full(t.size, 550.0)
    spikes = flat + np.where(np.arange(t.size) % 3 == 0, 95.0, 0.0)  # requests in flight
    step = flat + np.where(t >= 26.0, 155.0, 0.0)  # the heap grew once, mid-window
    leak = spikes + 2.5 * (t - t[0])  # 2.5 MB/s: ~150 kB per request at this test's rate
    bound = MAX_PROJECTED_GROWTH * 550.0 / DURATION_S
    assert abs(_leak_slope(t, spikes)) < 0.1 * bound
    assert abs(_leak_slope(t, step)) < 0.1 * bound
    assert _leak_slope(t, leak) > bound
