"""Cross-site and DNS-rebinding guards, request-head limits, slow bodies, what answers reveal."""

from __future__ import annotations

import asyncio
import json

import pytest
from _server_helpers import SpyPipeline, compat_body, make_client, wav_bytes
from starlette.websockets import WebSocketDisconnect

from riffgen.errors import RiffgenError
from riffgen.server.middleware import BodyLimitMiddleware
from riffgen.server.security import split_host

EVIL = "https://attacker.example"
JAM_START = {"type": "start", "prompts": ["jazz"], "num_inference_steps": 1, "buffer_ahead": 1}


def upload(client, **headers):
    files = {"file": ("a.wav", wav_bytes(0.5), "audio/wav")}
    return client.post("/api/v1/audio_to_image", files=files, headers=headers)


# -- Host (DNS rebinding) --------------------------------------------------------------------
@pytest.mark.parametrize(
    "host, ok",
    [
        ("127.0.0.1:3013", True),
        ("localhost", True),
        ("LOCALHOST:80", True),
        ("[::1]:3013", True),
        ("192.168.1.20:3013", True),  # an IP address involves no DNS: nothing to rebind
        ("testserver", True),  # the configured name
        ("attacker.example", False),
        ("localhost.attacker.example:3013", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_host_header_must_name_this_server(client, host, ok):
    r = client.get("/api/v1/health", headers={"host": host})
    assert r.status_code == (200 if ok else 400), r.text
    r = client.post("/run_inference/", json=compat_body(), headers={"host": host})
    assert (r.status_code == 200) == ok


def test_allowed_hosts_and_wildcard():
    with make_client(allowed_hosts=("music.example.org",)) as c:
        assert c.get("/api/v1/health", headers={"host": "music.example.org"}).status_code == 200
        assert c.get("/api/v1/health", headers={"host": "testserver"}).status_code == 400
    with make_client(allowed_hosts=("*",)) as c:
        assert c.get("/api/v1/health", headers={"host": "anything.example"}).status_code == 200


def test_websocket_host_is_checked():
    with make_client(allowed_hosts=()) as c:
        with pytest.raises(WebSocketDisconnect) as refused:  # noqa: SIM117
            with c.websocket_connect("/api/v1/jam") as ws:  # Host: testserver
                ws.receive_json()
        assert refused.value.code == 1008


@pytest.mark.parametrize(
    "value, expected",
    [
        ("127.0.0.1:3013", ("127.0.0.1", 3013)),
        ("[::1]:80", ("::1", 80)),
        ("[::1]", ("::1", None)),
        ("Example.ORG.", ("example.org", None)),
        ("host:notaport", ("host", None)),
    ],
)
def test_split_host(value, expected):
    assert split_host(value) == expected


# -- Origin (cross-site requests) ------------------------------------------------------------
def test_cross_site_posts_are_refused_before_any_work(client, spy):
    body = json.dumps(compat_body())
    for headers in (
        {"origin": EVIL},
        {"origin": "null"},  # sandboxed frames, file:// pages
        {"origin": "http://testserver:8080"},  # another port is another origin
        {"sec-fetch-site": "cross-site"},  # a browser that sent no Origin
        {"sec-fetch-site": "same-site"},
    ):
        r = client.post("/run_inference/", content=body, headers=headers)  # text/plain-like
        assert r.status_code == 403, (headers, r.text)
        assert upload(client, **headers).status_code == 403
    assert spy.calls == []


def test_same_origin_and_non_browser_posts_pass(client):
    for headers in (
        {},  # curl, scripts, the original app's Node proxy
        {"origin": "http://testserver"},
        {"origin": "https://testserver"},  # TLS proxy in front: the scheme is not compared
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},  # typed into the address bar
    ):
        assert upload(client, **headers).status_code == 200, headers
    assert client.post("/run_inference/", json=compat_body()).status_code == 200


def test_cross_site_reads_are_not_refused(client):
    # GETs change nothing; whether a page may read the answer is CORS's business.
    r = client.get("/api/v1/health", headers={"origin": EVIL, "sec-fetch-site": "cross-site"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_allowed_origins():
    with make_client(allowed_origins=("https://music.example.org/",)) as c:
        assert upload(c, origin="https://music.example.org").status_code == 200
        assert upload(c, origin=EVIL).status_code == 403
    with make_client(cors_origins=("https://music.example.org",)) as c:
        r = upload(c, origin="https://music.example.org")
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://music.example.org"
    with make_client(allowed_origins=("*",)) as c:
        assert upload(c, origin=EVIL).status_code == 200


def test_jam_websocket_checks_origin():
    with make_client(allowed_origins=("https://music.example.org",)) as c:
        for origin in (EVIL, "null", "http://localhost:3000"):
            with pytest.raises(WebSocketDisconnect) as refused:  # noqa: SIM117
                with c.websocket_connect("/api/v1/jam", headers={"origin": origin}) as ws:
                    ws.receive_json()
            assert refused.value.code == 1008, origin
        for headers in (
            {},
            {"origin": "http://testserver"},
            {"origin": "https://music.example.org"},
        ):
            with c.websocket_connect("/api/v1/jam", headers=headers) as ws:
                ws.send_json(JAM_START)
                assert ws.receive_json()["type"] == "started"


def test_cors_preflight_works_with_an_api_key():
    with make_client(api_key="k", cors_origins=("https://music.example.org",)) as c:
        r = c.options(
            "/api/v1/text_to_audio",
            headers={
                "origin": "https://music.example.org",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,x-api-key",
            },
        )
        assert r.status_code == 200  # preflights carry no key
        r = c.get("/api/v1/seed_images", headers={"origin": "https://music.example.org"})
        assert r.status_code == 401 and "access-control-allow-origin" in r.headers


# -- request heads and bodies ----------------------------------------------------------------
def test_request_head_limits(client):
    many = {f"x-h{i}": "a" for i in range(150)}
    assert client.get("/api/v1/health", headers=many).status_code == 431
    assert client.get("/api/v1/health", headers={"x-big": "a" * 40_000}).status_code == 431
    assert client.get("/api/v1/health", headers={"x-ok": "a" * 8_000}).status_code == 200


def run_body_limit(chunks: list[tuple[float, bytes, bool]], **limits) -> list[dict]:
    """Feed ``(delay_s, body, more_body)`` chunks through BodyLimitMiddleware; return what the
    app received and what was sent to the client."""
    seen: list[dict] = []
    sent: list[dict] = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main():
        queue = list(chunks)

        async def receive():
            if not queue:
                await asyncio.sleep(3600)
            delay, body, more = queue.pop(0)
            await asyncio.sleep(delay)
            return {"type": "http.request", "body": body, "more_body": more}

        async def send(message):
            sent.append(message)

        middleware = BodyLimitMiddleware(app, upload_limit=10_000, json_limit=1_000, **limits)
        scope = {"type": "http", "method": "POST", "headers": [(b"content-type", b"text/plain")]}
        await asyncio.wait_for(middleware(scope, receive, send), timeout=10)

    asyncio.run(main())
    return [m for m in sent if m["type"] == "http.response.start"] + seen


def test_slow_body_pause_gets_408():
    events = run_body_limit([(0, b"{", True), (5.0, b"}", False)], idle_timeout_s=0.2)
    assert events[0]["status"] == 408 and events[-1]["type"] == "http.disconnect"


def test_slow_trickle_hits_the_total_body_deadline():
    trickle = [(0.05, b" ", True)] * 100
    events = run_body_limit(trickle, idle_timeout_s=1.0, total_timeout_s=0.5)
    assert events[0]["status"] == 408
    assert len(events) < 20


def test_prompt_body_passes():
    events = run_body_limit([(0.01, b"{", True), (0.01, b"}", False)], idle_timeout_s=1.0)
    assert events[0]["status"] == 200 and events[-1]["body"] == b"}"


# -- what answers reveal -------------------------------------------------------------------------
def test_health_hides_the_model_path():
    with make_client(model_name="/home/someone/models/secret-model") as c:
        r = c.get("/api/v1/health")
    assert r.json()["model"] == "secret-model"
    assert "/home" not in r.text


class PathLeakingPipeline(SpyPipeline):
    def text_to_audio(self, prompt, **kw):
        raise RiffgenError("cannot read /home/someone/models/secret-model/unet/weights.bin: bad")


def test_error_messages_hide_local_paths():
    with make_client(PathLeakingPipeline()) as c:
        r = c.post("/api/v1/text_to_audio", json={"prompt": "x", "width": 64})
    assert r.status_code == 422
    assert "/home" not in r.text and "weights.bin" in r.text
