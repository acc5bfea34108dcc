"""End-to-end tests of the web app in headless Chromium (Playwright) against a real server.

A ``riffgen serve --model fake`` process (instant tones) serves the page and the API; one test
uses ``--model debug`` so that transform and inpaint also run through the real diffusion
pipeline. The browser is Debian's /usr/bin/chromium (no Playwright browser download).

Screenshots go to a temporary folder; set ``RIFFGEN_SCREENSHOTS=docs/screenshots`` to refresh
the committed ones.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import playwright.sync_api as sync_api
import pytest
import soundfile as sf
from _server_helpers import wav_bytes
from PIL import Image

from riffgen.server.live import LiveServer, live_server

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 60_000  # generous: the machine running the tests may be busy


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("fake_server"), model="fake") as srv:
        yield srv
    assert "Traceback" not in srv.log(), srv.log()[-4000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed: run `make test` (it apt-installs chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: $RIFFGEN_SCREENSHOTS (e.g. docs/screenshots) or a temporary folder."""
    wanted = os.environ.get("RIFFGEN_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Watch:
    """Everything a page did that a test may check: console errors, HTTP traffic, jam frames."""

    page: Any
    errors: list[str] = field(default_factory=list)
    responses: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    sent: list[dict[str, Any]] = field(default_factory=list)  # jam frames, client -> server
    received: list[dict[str, Any]] = field(default_factory=list)  # jam frames, without payloads

    def frames(self, kind: str, *, sent: bool = False) -> list[dict[str, Any]]:
        return [m for m in (self.sent if sent else self.received) if m.get("type") == kind]

    def assert_clean(self) -> None:
        assert not self.errors, self.errors
        bad = [r for r in self.responses if r[2] >= 400]
        assert not bad, bad


def _lean(payload: str | bytes) -> dict[str, Any]:
    message = json.loads(payload)
    for key in ("audio", "image"):  # data URLs of hundreds of kB: keep only their size
        if isinstance(message.get(key), str):
            message[key] = len(message[key])
    return message


def open_page(browser, server: LiveServer, viewport: dict[str, int], path: str = "/") -> Watch:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    context.add_init_script(FORM_SPY)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = Watch(page)
    page.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
    page.on("pageerror", lambda e: watch.errors.append(f"page error: {e}"))

    def on_response(response) -> None:
        if response.url.startswith(server.url):
            path = response.url[len(server.url) :].split("?")[0]
            watch.responses.append((response.request.method, path, response.status))

    page.on("response", on_response)

    def on_websocket(ws) -> None:
        ws.on("framesent", lambda payload: watch.sent.append(_lean(payload)))
        ws.on("framereceived", lambda payload: watch.received.append(_lean(payload)))

    page.on("websocket", on_websocket)
    page.goto(server.url + path)
    page.wait_for_load_state("networkidle")
    return watch


@pytest.fixture
def laptop(browser, server) -> Iterator[Watch]:
    watch = open_page(browser, server, LAPTOP)
    yield watch
    watch.page.context.close()


# -- helpers -------------------------------------------------------------------------------
def wait_status(page, element_id: str) -> str:
    """Wait until a status line has a result (data-kind ok or error); return its text."""
    page.wait_for_function(
        "id => ['ok', 'error'].includes(document.getElementById(id).dataset.kind)", arg=element_id
    )
    status = page.locator(f"#{element_id}")
    assert status.get_attribute("data-kind") == "ok", status.inner_text()
    return status.inner_text()


def wait_until(page, condition, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Poll a Python-side condition; Playwright delivers page events while the page waits."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        page.wait_for_timeout(50)


def reset_status(page, element_id: str) -> None:
    page.evaluate("id => { document.getElementById(id).dataset.kind = ''; }", element_id)


def drag(page, selector: str, points: list[tuple[float, float]]) -> None:
    """Press, move through ``points`` (fractions of the element's box) and release."""
    box = page.locator(selector).bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def read_audio(data: bytes) -> tuple[np.ndarray, int]:
    audio, sr = sf.read(io.BytesIO(data), always_2d=True)
    return audio, sr


def data_url_bytes(page, selector: str, attribute: str = "src") -> bytes:
    """The bytes behind an element's data: or blob: URL, fetched inside the page."""
    values = page.evaluate(
        """async ([sel, attr]) => {
            const url = document.querySelector(sel)[attr];
            const buf = await (await fetch(url)).arrayBuffer();
            return Array.from(new Uint8Array(buf));
        }""",
        [selector, attribute],
    )
    return bytes(values)


def no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


# Chromium does not expose multipart bodies that hold files to Playwright, so the page records
# the forms it posts (files as base64) before they go out.
FORM_SPY = """
window.__forms = [];
const originalFetch = window.fetch;
window.fetch = async function (input, init) {
  if (init && init.body instanceof FormData) {
    const fields = {};
    for (const [name, value] of init.body.entries()) {
      if (typeof value === "string") { fields[name] = value; continue; }
      const bytes = new Uint8Array(await value.arrayBuffer());
      let bin = "";
      for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
      fields[name] = { base64: btoa(bin), type: value.type };
    }
    window.__forms.push({ url: String(input), fields });
  }
  return originalFetch.apply(this, arguments);
};
"""


def last_form(page, path: str) -> dict[str, Any]:
    """The fields of the last form the page posted to ``path`` (files as bytes)."""
    forms = [f for f in page.evaluate("window.__forms") if f["url"].endswith(path)]
    assert forms, f"no form posted to {path}"
    return {
        name: base64.b64decode(value["base64"]) if isinstance(value, dict) else value
        for name, value in forms[-1]["fields"].items()
    }


# -- flows (each used at laptop size with full checks, and again for the phone screenshots) --
def start_player(watch: Watch, prompt: str = "jazz piano", clips: int = 3) -> None:
    page = watch.page
    page.fill("#prompt", prompt)
    page.click("#play")
    page.wait_for_function("n => window.riffgenPlayer.clips.length >= n", arg=clips)
    # The first clip starts 80 ms after it arrives; give the scheduler a moment to show it.
    page.wait_for_function(
        "() => document.getElementById('now-playing').textContent.startsWith('Now:')"
    )


def draw_and_play(watch: Watch, seconds: str = "2") -> None:
    page = watch.page
    page.click("#tab-draw")
    page.select_option("#draw-length", seconds)
    # Square pixels at every screen size (the phone layout used to squash the drawing).
    box = page.locator("#draw-canvas").bounding_box()
    size = page.evaluate("(c => [c.width, c.height])(document.getElementById('draw-canvas'))")
    assert box["width"] / box["height"] == pytest.approx(size[0] / size[1], rel=0.01)
    # A rising line and a low drone: dark strokes are loud.
    drag(page, "#draw-canvas", [(0.05, 0.9), (0.5, 0.6), (0.95, 0.4)])
    drag(page, "#draw-canvas", [(0.1, 0.97), (0.9, 0.97)])
    page.click("#draw-play")
    wait_status(page, "draw-status")


def transform(watch: Watch, wav: bytes) -> None:
    page = watch.page
    page.click("#tab-transform")
    page.set_input_files(
        "#transform-file", {"name": "tone.wav", "mimeType": "audio/wav", "buffer": wav}
    )
    page.fill("#transform-prompt", "church organ")
    page.fill("#transform-steps", "3")
    page.click("#transform-go")
    wait_status(page, "transform-status")


def inpaint_generated_clip(watch: Watch) -> None:
    page = watch.page
    page.click("#tab-inpaint")
    page.click("#inpaint-generate")
    page.wait_for_function("() => !document.getElementById('inpaint-go').disabled")
    wait_status(page, "inpaint-status")
    drag(page, "#inpaint-canvas", [(0.2, 0.5), (0.5, 0.5)])
    reset_status(page, "inpaint-status")
    page.click("#inpaint-go")
    wait_status(page, "inpaint-status")


# -- tests ---------------------------------------------------------------------------------
def test_page_loads_without_errors(laptop, server):
    page = laptop.page
    assert page.title() == "riffgen"
    # The status sits in a closed <details>: read its text, not its rendering.
    page.wait_for_function(
        "() => !document.getElementById('server-status').textContent.includes('…')"
    )
    assert "model fake" in page.locator("#server-status").text_content()
    options = page.locator("#seed-image option").all_inner_texts()
    assert "beat_100 (100 BPM)" in options and not any("mask" in o for o in options)
    assert page.input_value("#seed-image") == "beat_100"
    fetched = {path for _, path, _ in laptop.responses}
    assert {"/", "/app.css", "/js/main.js", "/api/v1/health", "/api/v1/seed_images"} <= fetched
    # Tabs: click and arrow keys switch panels; the URL hash follows.
    page.click("#tab-transform")
    assert page.locator("#panel-transform").is_visible()
    assert not page.locator("#panel-player").is_visible()
    page.keyboard.press("ArrowRight")
    assert page.locator("#panel-inpaint").is_visible()
    assert page.evaluate("location.hash") == "#inpaint"
    no_horizontal_overflow(page)
    laptop.assert_clean()


def test_endless_player_streams_gapless_clips(laptop, shots):
    page = laptop.page
    start_player(laptop, "jazz piano", clips=3)
    start = laptop.frames("start", sent=True)
    assert len(start) == 1 and start[0]["prompts"] == ["jazz piano"]
    # The steps input starts at the served model's default (health's default_steps, 50 here).
    health = page.evaluate("fetch('/api/v1/health').then(r => r.json())")
    steps = health["default_steps"]
    assert start[0]["num_inference_steps"] == steps and start[0]["seed_image"] == "beat_100"
    assert laptop.frames("started")[0]["bpm"] == 100.0
    clips = laptop.frames("clip")
    assert [c["seq"] for c in clips[:3]] == [0, 1, 2]
    assert all(c["audio"] > 10_000 and c["image"] > 1000 for c in clips)
    # The UI shows what plays and what is buffered; downloads become possible.
    assert "jazz piano" in page.inner_text("#now-playing")
    assert page.get_attribute("#play", "aria-pressed") == "true"
    assert re.match(r"\d+ clips? buffered \(\d+\.\d s ahead\)", page.inner_text("#buffer-text"))
    assert page.locator("#timeline .seg").first.inner_text() == "jazz piano"
    assert page.is_enabled("#download-wav") and page.is_enabled("#download-png")
    # Clips are scheduled back to back (the server joins the seams): no gap, no overlap.
    schedule = page.evaluate("riffgenPlayer.clips.map(c => [c.start, c.duration])")
    for (s0, d0), (s1, _) in zip(schedule, schedule[1:], strict=False):
        assert s1 == pytest.approx(s0 + d0, abs=1e-3)
    # Flow control: the page reports what it plays.
    wait_until(page, lambda: laptop.frames("played", sent=True))
    assert laptop.frames("played", sent=True)[0]["seq"] == 0
    page.screenshot(path=str(shots / "laptop-player.png"))

    # Queue a prompt: it shows under "Up next" and goes to the server.
    page.fill("#prompt", "techno kick")
    page.click("#queue-add")
    assert page.locator("#queue li").all_inner_texts() == ["techno kick"]
    assert page.locator("#queue-empty").is_hidden()
    wait_until(page, lambda: laptop.frames("prompt", sent=True))
    assert laptop.frames("prompt", sent=True)[-1] == {
        "type": "prompt",
        "prompt": "techno kick",
        "mode": "queue",
    }

    # A settings change restarts the server's engine; its first clip is marked as a restart.
    page.locator("#denoising").fill("0.5")
    assert page.inner_text("#denoising-out") == "0.50"
    wait_until(page, lambda: laptop.frames("settings", sent=True))  # sent 400 ms after the input
    assert laptop.frames("settings", sent=True)[-1]["denoising"] == 0.5
    wait_until(page, lambda: any(c["restart"] for c in laptop.frames("clip")))

    # Downloads: the session as one WAV, the spectrogram as one PNG.
    with page.expect_download() as download:
        page.click("#download-wav")
    audio, sr = read_audio(Path(download.value.path()).read_bytes())
    # The WAV holds the clips buffered at the click; another may have arrived since.
    durations = page.evaluate("riffgenPlayer.clips.map((c) => c.duration)")
    totals = np.cumsum(durations)
    assert np.min(np.abs(totals[2:] - audio.shape[0] / sr)) < 0.01, (audio.shape[0] / sr, totals)
    assert 0.1 < np.abs(audio).max() <= 1.0
    with page.expect_download() as download:
        page.click("#download-png")
    png = Image.open(download.value.path())
    assert png.height == 512 and png.width > 3 * 400

    # Pause suspends the audio clock.
    page.click("#play")
    assert page.inner_text("#play") == "▶ Play"
    assert page.evaluate("riffgenPlayer.playing") is False
    laptop.assert_clean()


def test_share_link_restores_settings_and_plays_prompts_in_order(browser, server):
    """Regression: the first prompt of a share link was dropped (the queue's head played)."""
    watch = open_page(
        browser,
        server,
        LAPTOP,
        "/?prompt=alpha%20one&prompt=beta%20two&seed=7&steps=5&denoising=0.5&seed_image=beat_120",
    )
    page = watch.page
    try:
        assert page.input_value("#prompt") == "alpha one"
        assert page.locator("#queue li").all_inner_texts() == ["beta two"]
        page.wait_for_function("() => document.getElementById('seed-image').value === 'beat_120'")
        assert (page.input_value("#seed"), page.input_value("#steps")) == ("7", "5")
        page.click("#play")
        page.wait_for_function("() => window.riffgenPlayer.clips.length >= 1")
        start = watch.frames("start", sent=True)[0]
        assert start["prompts"] == ["alpha one", "beta two"]
        assert (start["seed"], start["num_inference_steps"], start["denoising"]) == (7, 5, 0.5)
        assert start["seed_image"] == "beat_120"
        assert watch.frames("clip")[0]["start"]["prompt"] == "alpha one"
        # The share link of the running session round-trips.
        page.click("#share")
        url = page.input_value("#share-url")
        assert "prompt=alpha+one&prompt=beta+two" in url and "seed=7" in url
        watch.assert_clean()
    finally:
        page.context.close()


def test_reconnect_keeps_the_prompt_and_does_not_overlap(laptop):
    """Regression: after a disconnect, Play started a random prompt on top of the audio still
    buffered (two streams at once) and never reported the new stream's first clip."""
    page = laptop.page
    start_player(laptop, "bossa nova", clips=3)
    page.evaluate("riffgenPlayer.ws.close()")
    page.wait_for_function("() => window.riffgenPlayer.ws === null")
    assert "press Play to reconnect" in page.inner_text("#now-playing")
    before = page.evaluate("riffgenPlayer.clips.length")
    page.click("#play")
    page.wait_for_function("n => window.riffgenPlayer.clips.length >= n + 2", arg=before)
    starts = laptop.frames("start", sent=True)
    assert [s["prompts"] for s in starts] == [["bossa nova"], ["bossa nova"]]
    schedule = page.evaluate("riffgenPlayer.clips.map(c => [c.start, c.duration])")
    for (s0, d0), (s1, _) in zip(schedule, schedule[1:], strict=False):
        # Back to back, or a 50 ms crossfade at the reconnect seam.
        assert s0 + d0 - 0.051 <= s1 <= s0 + d0 + 1e-3
    assert page.evaluate("riffgenPlayer.reported") == -1  # new stream: nothing played yet
    laptop.assert_clean()


def test_draw_to_audio(laptop, shots):
    page = laptop.page
    draw_and_play(laptop, seconds="2")
    sent = last_form(page, "/api/v1/image_to_audio")
    drawing = Image.open(io.BytesIO(sent["image"]))
    assert drawing.size == (201, 512)  # 2 s at 10 ms per column
    ink = np.asarray(drawing.convert("L"))
    assert (ink < 128).mean() > 0.005 and ink[0].min() > 200  # strokes below, blank top row
    assert page.is_visible("#draw-audio")
    audio, sr = read_audio(data_url_bytes(page, "#draw-audio"))
    assert audio.shape[0] / sr == pytest.approx(2.0, abs=0.01)
    assert np.sqrt(np.mean(audio**2)) > 0.01  # the strokes are audible
    assert "2.00 s of audio" in page.inner_text("#draw-status")
    page.screenshot(path=str(shots / "laptop-draw.png"))
    # Clear wipes the canvas.
    page.click("#draw-clear")
    blank = page.evaluate(
        "() => { const c = document.getElementById('draw-canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " return d.every(v => v === 255); }"
    )
    assert blank
    laptop.assert_clean()


def test_transform_uploaded_wav(laptop, shots):
    page = laptop.page
    transform(laptop, wav_bytes(3.0))
    sent = last_form(page, "/api/v1/audio_to_audio")
    assert sent["prompt"] == "church organ" and sent["num_inference_steps"] == "3"
    assert sent["denoising"] == "0.6" and sent["file"][:4] == b"RIFF"
    assert page.get_attribute("#transform-original", "src").startswith("blob:")
    assert page.is_visible("#transform-image") and page.is_visible("#transform-download")
    assert "Done: 3.00 s" in page.inner_text("#transform-status")
    with page.expect_download() as download:
        page.click("#transform-download")
    assert download.value.suggested_filename == "riffgen-transform.wav"
    audio, sr = read_audio(Path(download.value.path()).read_bytes())
    assert audio.shape[0] / sr == pytest.approx(3.0, abs=0.02) and np.abs(audio).max() > 0.1
    page.screenshot(path=str(shots / "laptop-transform.png"), full_page=True)
    laptop.assert_clean()


def test_inpaint_time_range_and_mask(laptop, shots):
    page = laptop.page
    inpaint_generated_clip(laptop)
    # Dragging from 20 % to 50 % of a 5.11 s clip selected about 1.0-2.6 s.
    start_s, end_s = (
        float(page.input_value("#inpaint-start")),
        float(page.input_value("#inpaint-end")),
    )
    assert start_s == pytest.approx(1.02, abs=0.06) and end_s == pytest.approx(2.56, abs=0.06)
    sent = last_form(page, "/api/v1/inpaint")
    assert float(sent["start_s"]) == start_s and float(sent["end_s"]) == end_s
    assert Image.open(io.BytesIO(sent["image"])).size == (512, 512) and "mask" not in sent
    assert page.get_attribute("#inpaint-after", "src").startswith("data:audio/wav")
    assert page.is_visible("#inpaint-download") and page.is_visible("#inpaint-keep")
    page.screenshot(path=str(shots / "laptop-inpaint.png"), full_page=True)

    # Mask mode: paint a blob; the server gets white where painted and black elsewhere.
    page.check("input[name=inpaint-mode][value=mask]")
    page.fill("#inpaint-prompt", "marimba")
    drag(page, "#inpaint-canvas", [(0.7, 0.3), (0.8, 0.3)])
    reset_status(page, "inpaint-status")
    page.click("#inpaint-go")
    wait_status(page, "inpaint-status")
    sent = last_form(page, "/api/v1/inpaint")
    assert "start_s" not in sent and sent["prompt"] == "marimba"
    mask = np.asarray(Image.open(io.BytesIO(sent["mask"])).convert("L"))
    assert mask.shape == (512, 512)
    assert mask[int(0.3 * 512), int(0.75 * 512)] > 200  # painted: repaint
    assert mask[int(0.8 * 512), int(0.2 * 512)] < 50  # untouched: keep
    assert 0.005 < (mask > 128).mean() < 0.2

    # "Use result as the new clip" makes the result the clip to edit next.
    before = page.get_attribute("#inpaint-before", "src")
    page.click("#inpaint-keep")
    page.wait_for_function(
        "old => document.getElementById('inpaint-before').src !== old", arg=before
    )
    laptop.assert_clean()


def test_phone_layout_screenshots(browser, server, shots):
    """Every tool at phone width: usable (no sideways scrolling) and working."""
    watch = open_page(browser, server, PHONE)
    page = watch.page
    try:
        no_horizontal_overflow(page)
        start_player(watch, "lo-fi hip hop beat", clips=2)
        no_horizontal_overflow(page)
        page.screenshot(path=str(shots / "phone-player.png"), full_page=True)
        page.click("#play")  # pause: no more clips while the other tools are used
        draw_and_play(watch, seconds="2")
        no_horizontal_overflow(page)
        page.screenshot(path=str(shots / "phone-draw.png"), full_page=True)
        transform(watch, wav_bytes(2.0, sr=22050))
        no_horizontal_overflow(page)
        page.screenshot(path=str(shots / "phone-transform.png"), full_page=True)
        inpaint_generated_clip(watch)
        no_horizontal_overflow(page)
        page.screenshot(path=str(shots / "phone-inpaint.png"), full_page=True)
        watch.assert_clean()
    finally:
        page.context.close()


def test_transform_and_inpaint_on_the_debug_model(browser, tmp_path):
    """The same forms through the real diffusion pipeline (random debug weights, 64 mel bins):
    an uploaded 22.05 kHz file, a 3-step transform, then an inpaint of a dragged range."""
    with live_server(tmp_path, model="debug") as debug:
        watch = open_page(browser, debug, LAPTOP)
        page = watch.page
        try:
            transform(watch, wav_bytes(3.0, sr=22050))
            audio, sr = read_audio(data_url_bytes(page, "#transform-result"))
            assert sr == 44100 and audio.shape[0] / sr == pytest.approx(3.0, abs=0.1)
            page.click("#tab-inpaint")
            page.set_input_files(
                "#inpaint-file",
                {"name": "tone.wav", "mimeType": "audio/wav", "buffer": wav_bytes(3.0, sr=22050)},
            )
            wait_status(page, "inpaint-status")
            assert "3.00 s loaded" in page.inner_text("#inpaint-status")
            drag(page, "#inpaint-canvas", [(0.5, 0.5), (0.8, 0.5)])
            reset_status(page, "inpaint-status")
            page.click("#inpaint-go")
            wait_status(page, "inpaint-status")
            audio, sr = read_audio(data_url_bytes(page, "#inpaint-after"))
            assert audio.shape[0] / sr == pytest.approx(3.0, abs=0.1)
            assert np.isfinite(audio).all()
            watch.assert_clean()
        finally:
            page.context.close()
        assert "Traceback" not in debug.log(), debug.log()[-4000:]


def test_decoder_select_reaches_every_request_and_persists(laptop, server, shots):
    page = laptop.page
    page.wait_for_function(
        "() => document.querySelector('#decoder option[value=\"\"]').textContent"
        ".includes('griffin-lim')"
    )  # the server's default, from /api/v1/health
    assert page.input_value("#decoder") == ""
    page.select_option("#decoder", "vocoder")
    start_player(laptop, "jazz piano", clips=1)
    assert laptop.frames("start", sent=True)[0]["decoder"] == "vocoder"
    page.select_option("#decoder", "original")  # while playing: the stream restarts with it
    wait_until(page, lambda: laptop.frames("settings", sent=True))
    assert laptop.frames("settings", sent=True)[-1]["decoder"] == "original"
    page.click("#play")  # pause
    page.locator(".card:has(#decoder)").screenshot(path=str(shots / "laptop-settings.png"))
    draw_and_play(laptop, seconds="2")
    assert last_form(page, "/api/v1/image_to_audio")["decoder"] == "original"
    transform(laptop, wav_bytes(1.0))
    assert last_form(page, "/api/v1/audio_to_audio")["decoder"] == "original"
    assert "decoder=original" in page.evaluate(
        "document.getElementById('share').click(), document.getElementById('share-url').value"
    )
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.input_value("#decoder") == "original"  # kept, like the API key
    page.click("#tab-player")  # the reload came back on the transform tab
    page.select_option("#decoder", "")  # back to the server's default: nothing is sent
    draw_and_play(laptop, seconds="2")
    assert "decoder" not in last_form(page, "/api/v1/image_to_audio")
    laptop.assert_clean()
