"""The jam WebSocket: clips on the original schedule, flow control, prompt queue, settings."""

from __future__ import annotations

import io
import time

import pytest
import soundfile as sf
from _server_helpers import decode_data_url, make_client, receive
from starlette.websockets import WebSocketDisconnect

from riffgen.diffusion.fake import FakePipeline

START = {
    "type": "start",
    "prompts": ["jazz"],
    "num_inference_steps": 2,
    "seed_image": "og_beat",
    "buffer_ahead": 2,
    "format": "wav",
}


def test_jam_streams_clips_with_flow_control():
    pipe = FakePipeline()
    with make_client(pipe) as c, c.websocket_connect("/api/v1/jam") as ws:
        ws.send_json(START)
        started = receive(ws, "started")
        assert started["bpm"] == 120.0 and started["sample_rate"] == 44100
        clips = [receive(ws, "clip"), receive(ws, "clip")]
        assert [m["seq"] for m in clips] == [0, 1]
        assert [m["alpha"] for m in clips] == [0.25, 0.5]
        assert clips[0]["start"]["prompt"] == "jazz" and clips[0]["end"]["seed"] == 1
        audio, sr = sf.read(io.BytesIO(decode_data_url(clips[0]["audio"])))
        assert sr == 44100 and abs(len(audio) / sr - clips[0]["duration_s"]) < 0.01
        assert clips[0]["image"].startswith("data:image/png;base64,")
        # buffer_ahead=2 and nothing played: the server must wait.
        calls = len(pipe.calls)
        ws.send_json({"type": "prompt", "prompt": "techno", "mode": "queue"})
        time.sleep(0.3)
        assert len(pipe.calls) == calls
        ws.send_json({"type": "played", "seq": 1})
        later = []
        for _ in range(4):  # the server stays buffer_ahead clips ahead of what is played
            later.append(receive(ws, "clip"))
            ws.send_json({"type": "played", "seq": later[-1]["seq"]})
        seqs = [m["seq"] for m in later]
        assert seqs == [2, 3, 4, 5]
        # The queued prompt arrives at the next wrap (after alpha 1.0) as a transition.
        transitions = [m for m in later if m["transition"]]
        assert transitions and transitions[0]["end"]["prompt"] == "techno"
        ws.send_json({"type": "stop"})


def test_jam_settings_restart_and_errors():
    with make_client(FakePipeline()) as c, c.websocket_connect("/api/v1/jam") as ws:
        ws.send_json({"type": "prompt", "prompt": "x"})
        assert "start first" in receive(ws, "error")["message"]
        ws.send_text("not json")
        assert receive(ws, "error")["message"] == "not JSON"
        ws.send_json([1, 2])
        assert receive(ws, "error")
        ws.send_json({"type": "dance"})
        assert receive(ws, "error")["loc"] == ["type"]
        for bad, field in [
            ({"prompts": []}, "prompts"),
            ({"seed_image": "../x"}, "seed_image"),
            ({"seed_image": "nope"}, "seed_image"),
            ({"denoising": 3}, "denoising"),
            ({"num_inference_steps": 1000}, "num_inference_steps"),
            ({"prompts": [""]}, "prompts"),
        ]:
            ws.send_json({**START, **bad})
            err = receive(ws, "error")
            assert field in err["loc"] or field in err["message"], (bad, err)
        ws.send_json(START)
        receive(ws, "started")
        first = receive(ws, "clip")
        assert first["restart"] is False
        ws.send_json({"type": "played", "seq": first["seq"]})
        ws.send_json({"type": "settings", "denoising": 0.3})
        restarted = receive(ws, "started")
        assert restarted["restart"] is True
        clip = receive(ws, "clip")
        while not clip["restart"]:
            clip = receive(ws, "clip")
        assert clip["start"]["denoising"] == 0.3 and clip["seq"] > first["seq"]
        ws.send_json({"type": "played", "seq": "x"})
        assert receive(ws, "error")["loc"] == ["seq"]


def test_jam_session_limit_and_api_key():
    with make_client(FakePipeline(), max_jam_sessions=1, api_key="k") as c:
        with pytest.raises(WebSocketDisconnect) as refused:  # noqa: SIM117
            with c.websocket_connect("/api/v1/jam") as ws:
                ws.receive_json()
        assert refused.value.code == 4401
        with c.websocket_connect("/api/v1/jam?api_key=k") as ws:
            ws.send_json(START)
            receive(ws, "clip")
            with pytest.raises(WebSocketDisconnect) as busy:  # noqa: SIM117
                with c.websocket_connect("/api/v1/jam?api_key=k") as ws2:
                    ws2.receive_json()
            assert busy.value.code == 1013


def test_jam_survives_client_mistakes(caplog):
    """Regression: a binary frame closed the session with 1011 (KeyError 'text' in the log) and
    30,000 "[" logged a RecursionError. Each mistake now gets an error and the session goes on."""
    mistakes = [
        ("bytes", b"\x00\x01binary"),
        ("text", "[" * 30_000),
        ("text", '{"type": "start", "prompts": ' + "[" * 30_000 + "]" * 30_000 + "}"),
        ("text", "x" * 200_000),
        ("text", '{"type": "played", "seq": ' + "9" * 5_000 + "}"),  # int too long to convert
        ("text", '{"type": ["start"]}'),
        ("text", '{"type": "' + "a" * 60_000 + '"}'),
        ("text", '{"type": "start", "prompts": ["x"], "bpm": NaN}'),
        ("text", '{"type": "start", "prompts": ["x"], "num_inference_steps": 1e400}'),
        ("text", '"start"'),
        ("text", "\ud800"),
    ]
    with (
        caplog.at_level("INFO", logger="riffgen.server"),
        make_client(FakePipeline()) as c,
        c.websocket_connect("/api/v1/jam") as ws,
    ):
        for kind, payload in mistakes:
            if kind == "bytes":
                ws.send_bytes(payload)
            else:
                ws.send_text(payload)
            error = receive(ws, "error")
            assert error["message"], payload[:40]
        ws.send_json(START)
        assert receive(ws, "started")
        assert receive(ws, "clip")["seq"] == 0
    assert not [r for r in caplog.records if r.levelno >= 40 or r.exc_info], caplog.text
