"""A real ``riffgen serve`` under hostile clients: slow or huge request heads, slow bodies, DNS
rebinding, and an upload that is tiny on the wire but an hour long once decoded.

Raw sockets, not an HTTP client: these requests are ones a well-behaved client never sends.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import soundfile as sf

from riffgen.server.live import LiveServer, live_server

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 1.5
BODY_TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    args = ("--header-timeout", str(HEADER_TIMEOUT_S), "--body-timeout", str(BODY_TIMEOUT_S))
    with live_server(tmp_path_factory.mktemp("exposed"), args=args) as srv:
        yield srv
    assert "Traceback" not in srv.log(), srv.log()[-4000:]


def connect(server: LiveServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def read_reply(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or resets it)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def test_slow_request_headers_are_cut_off(server):
    with connect(server) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        began = time.monotonic()
        sock.settimeout(0.5)
        reply = b""
        while time.monotonic() - began < HEADER_TIMEOUT_S + 5.0:
            try:
                sock.sendall(b"X-Slow: a\r\n")  # a header line every half second
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset: the server has closed
                break
            if not chunk:
                break
            reply += chunk
        elapsed = time.monotonic() - began
    assert elapsed < HEADER_TIMEOUT_S + 2.0
    assert status_of(reply) in (0, 408), reply[:200]


def test_silent_connection_is_closed(server):
    with connect(server) as sock:
        began = time.monotonic()
        reply = read_reply(sock)
    assert status_of(reply) == 408
    assert time.monotonic() - began < HEADER_TIMEOUT_S + 2.0


@pytest.mark.parametrize(
    "extra",
    [
        b"X-Big: " + b"a" * 100_000 + b"\r\n",  # 100 KB of one header
        b"".join(b"X-%d: a\r\n" % i for i in range(10_000)),  # 10,000 headers
        b"".join(b"X-%d: a\r\n" % i for i in range(150)),  # few bytes, too many lines
    ],
    ids=["100KB-header", "10000-headers", "150-headers"],
)
def test_oversized_request_heads_are_refused(server, extra):
    with connect(server) as sock:
        # The server may stop reading at its limit and close while this is still sending.
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n")
        reply = read_reply(sock)
    # 400/431, or a reset that ate the answer: never a 200.
    assert status_of(reply) in (0, 400, 431), reply[:200]
    assert httpx.get(f"{server.url}/api/v1/health", trust_env=False).status_code == 200


def test_slow_body_gets_408(server):
    with connect(server) as sock:
        sock.sendall(
            b"POST /run_inference/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        began = time.monotonic()
        reply = read_reply(sock)
    assert status_of(reply) == 408, reply[:200]
    assert time.monotonic() - began < BODY_TIMEOUT_S + 2.0


def test_dns_rebinding_host_is_refused(server):
    with httpx.Client(trust_env=False, timeout=30) as client:
        r = client.get(f"{server.url}/api/v1/health", headers={"Host": "rebind.attacker.example"})
        assert r.status_code == 400
        for host in ("localhost", "127.0.0.1:3013", "[::1]:3013", "10.1.2.3"):
            assert client.get(f"{server.url}/api/v1/health", headers={"Host": host}).is_success


def test_cross_site_upload_is_refused(server):
    wav = io.BytesIO()
    sf.write(wav, np.zeros(4410, np.float32), 44100, format="WAV")
    files = {"file": ("a.wav", wav.getvalue(), "audio/wav")}
    url = f"{server.url}/api/v1/audio_to_image"
    with httpx.Client(trust_env=False, timeout=30) as client:
        r = client.post(url, files=files, headers={"Origin": "https://attacker.example"})
        assert r.status_code == 403
        assert client.post(url, files=files, headers={"Origin": server.url}).status_code == 200
        assert client.post(url, files=files).status_code == 200  # curl, scripts


def silent_flac(hours: float, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", sample_rate, 1, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros(sample_rate * 60, np.int16)
        for _ in range(int(hours * 60)):
            f.write(block)
    return buffer.getvalue()


def test_an_hour_of_silence_is_refused_from_its_header(server):
    """Regression: the whole file was decoded on the event loop before the length check
    (1 h at 44.1 kHz, 490 KB: +760 MiB RSS, health stalled for 10 s). 8 kHz keeps it cheap:
    the old code still grew by ~230 MiB and stalled for seconds."""
    data = silent_flac(1.0, 8000)
    assert len(data) < 200_000
    rss_before = server.rss_bytes()
    peak = [rss_before]
    result: dict[str, object] = {}

    def upload() -> None:
        r = httpx.post(
            f"{server.url}/api/v1/audio_to_image",
            files={"file": ("silence.flac", data, "audio/flac")},
            timeout=60,
            trust_env=False,
        )
        result.update(status=r.status_code, text=r.text)

    with httpx.Client(trust_env=False, timeout=60) as client:
        client.get(f"{server.url}/api/v1/health")
        thread = threading.Thread(target=upload)
        thread.start()
        latencies = []
        while thread.is_alive():
            began = time.monotonic()
            client.get(f"{server.url}/api/v1/health")
            latencies.append(time.monotonic() - began)
            peak[0] = max(peak[0], server.rss_bytes())
            time.sleep(0.01)
        thread.join()
    assert result["status"] == 422 and "3600.0 s of audio" in str(result["text"])
    assert peak[0] - rss_before < 50 * 2**20
    assert max(latencies, default=0.0) < 1.5


def test_a_part_of_a_long_upload_is_decoded_alone(server):
    data = silent_flac(0.5, 8000)
    r = httpx.post(
        f"{server.url}/api/v1/audio_to_image",
        files={"file": ("silence.flac", data, "audio/flac")},
        data={"start_s": "1200", "duration_s": "2"},
        timeout=60,
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    assert float(r.headers["x-duration-s"]) == pytest.approx(2.0)
