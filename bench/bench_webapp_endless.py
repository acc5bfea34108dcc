"""Does the web app's endless player keep up? A real server, a real browser, on this machine.

    .venv/bin/python bench/bench_webapp_endless.py [--model mini] [--seconds 90] [--steps N]

Starts ``riffgen serve --model MODEL`` (its default steps and decoder unless ``--steps`` /
``--decoder``), opens the web app in headless Chromium on the same cores, presses Play and
listens for ``--seconds`` of audio. Prints, as JSON: the clips received, the gaps the player
had to bridge (``riffgenPlayer.underruns``: each is silence a listener hears), the seconds
the "servers are behind" notice showed after the first clip, the least audio buffered ahead
once playing, and the seconds of audio made per second of wall time.

The goal of issue #14: no gap at the model's default settings with the browser open.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from riffgen.server.live import live_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]
AHEAD = re.compile(r"\(([\d.]+) s ahead\)")


def listen(url: str, args: argparse.Namespace) -> dict[str, object]:
    import playwright.sync_api as sync_api

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(180_000)
        page.goto(url + "/")
        page.wait_for_load_state("networkidle")
        health = page.evaluate("fetch('/api/v1/health').then(r => r.json())")
        page.fill("#prompt", args.prompt)
        if args.steps:
            page.fill("#steps", str(args.steps))
        started = time.monotonic()
        page.click("#play")
        page.wait_for_function("() => window.riffgenPlayer.clips.length >= 1")
        first = time.monotonic() - started
        playing_from = time.monotonic()
        behind_s, least_ahead, samples = 0.0, float("inf"), 0
        while time.monotonic() - playing_from < args.seconds:
            time.sleep(0.5)
            text = page.inner_text("#buffer-text")
            match = AHEAD.search(text)
            if match and time.monotonic() - playing_from > 1.0:
                least_ahead = min(least_ahead, float(match.group(1)))
            if page.is_visible("#behind"):
                behind_s += 0.5
            samples += 1
        player = page.evaluate(
            "({clips: riffgenPlayer.clips.map(c => c.duration), gaps: riffgenPlayer.underruns})"
        )
        wall = time.monotonic() - started
        browser.close()
    durations = player["clips"]
    return {
        "model": args.model,
        "default_steps": health.get("default_steps"),
        "steps": args.steps or health.get("default_steps"),
        "decoder": args.decoder or "server default",
        "listened_s": args.seconds,
        "first_clip_s": round(first, 2),
        "clips": len(durations),
        "audio_s": round(sum(durations), 2),
        "audio_per_wall_s": round(sum(durations) / wall, 2),
        "gaps": player["gaps"],
        "behind_notice_s": behind_s,
        "least_ahead_s": None if least_ahead == float("inf") else least_ahead,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mini")
    parser.add_argument("--seconds", type=float, default=90.0, help="audio time to listen")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's own")
    parser.add_argument("--decoder", default=None, help="default: the server's")
    parser.add_argument("--prompt", default="fast punk drum beat with distorted guitar")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run `make setup` (it apt-installs chromium)")
        return 1
    serve_args = ("--decoder", args.decoder) if args.decoder else ()
    # The server keeps torch's own thread count: the bench measures what a user gets.
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_server(
            Path(tmp), model=args.model, args=serve_args, threads=None, startup_timeout_s=180
        ) as server,
    ):
        result = listen(server.url, args)
    print(json.dumps(result, indent=2))
    ok = result["gaps"] == 0
    print(f"no gap at the model's settings: {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
