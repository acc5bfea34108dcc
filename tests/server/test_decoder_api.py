"""The decoder over HTTP and the jam socket: per request, the server's default, the original API."""

from __future__ import annotations

import io

import numpy as np
import pytest
from _server_helpers import decode_data_url, make_client, receive, wav_bytes
from PIL import Image

from riffgen.audio.decoders import DECODERS, DEFAULT_DECODER
from riffgen.diffusion.fake import FakePipeline

ENDPOINT = {"prompt": "jazz", "seed": 1, "denoising": 0.75, "guidance": 7.0}


class DecoderSpy(FakePipeline):
    """Notes the decoder the pipeline was set to at each call."""

    def __init__(self) -> None:
        super().__init__()
        self.decoders: list[str | None] = []

    def _note(self) -> None:
        self.decoders.append(getattr(self, "decoder", None))

    def text_to_audio(self, *a, **k):
        self._note()
        return super().text_to_audio(*a, **k)

    def interpolate(self, *a, **k):
        self._note()
        return super().interpolate(*a, **k)

    def audio_to_audio(self, *a, **k):
        self._note()
        return super().audio_to_audio(*a, **k)

    def inpaint(self, *a, **k):
        self._note()
        return super().inpaint(*a, **k)


def _requests(c, decoder):
    """One request of every generating endpoint, naming ``decoder`` (None: naming none)."""
    field = {} if decoder is None else {"decoder": decoder}
    wav = {"file": ("a.wav", wav_bytes(1.0), "audio/wav")}
    return [
        c.post("/api/v1/text_to_audio", json={"prompt": "a", "num_inference_steps": 2,
                                              "width": 128, **field}),
        c.post("/api/v1/interpolate", json={"start": ENDPOINT, "end": ENDPOINT, "alpha": 0.5,
                                            "num_inference_steps": 2, **field}),
        c.post("/api/v1/audio_to_audio", files=wav,
               data={"prompt": "a", "num_inference_steps": 2, **field}),
        c.post("/api/v1/inpaint", files=wav,
               data={"prompt": "a", "num_inference_steps": 2, "start_s": 0.2, **field}),
    ]  # fmt: skip


@pytest.mark.parametrize("decoder", ["vocoder", "original", None])
def test_every_endpoint_decodes_with_the_request_field(decoder):
    spy = DecoderSpy()
    with make_client(spy) as c:
        for r in _requests(c, decoder):
            assert r.status_code == 200, r.text
    assert spy.decoders == [decoder or DEFAULT_DECODER] * 4
    assert not hasattr(spy, "decoder")  # restored after each request: nothing leaks


def test_server_default_and_the_original_api():
    spy = DecoderSpy()
    body = {"alpha": 0.25, "num_inference_steps": 2, "seed_image_id": "og_beat",
            "start": ENDPOINT, "end": ENDPOINT}  # fmt: skip
    with make_client(spy, decoder="vocoder") as c:
        h = c.get("/api/v1/health").json()
        assert h["decoder"] == "vocoder" and h["decoders"] == list(DECODERS)
        assert c.post("/run_inference/", json=body).status_code == 200
        # the original's body has no decoder: a client that sends one gets the server's
        assert c.post("/run_inference/", json={**body, "decoder": "original"}).status_code == 200
        assert c.post("/api/v1/text_to_audio", json={"prompt": "a", "num_inference_steps": 2,
                                                     "width": 128}).status_code == 200  # fmt: skip
    assert spy.decoders == ["vocoder"] * 3


def test_bad_decoder_is_a_422_naming_the_field(client):
    r = client.post("/api/v1/text_to_audio", json={"prompt": "a", "decoder": "wavenet"})
    assert r.status_code == 422 and "decoder" in r.text
    r = client.post(
        "/api/v1/audio_to_audio",
        files={"file": ("a.wav", wav_bytes(0.5), "audio/wav")},
        data={"prompt": "a", "decoder": "wavenet"},
    )
    assert r.status_code == 422 and "decoder" in r.text
    with pytest.raises(ValueError, match="unknown decoder"):
        from riffgen.server import ServerConfig

        ServerConfig(decoder="wavenet")


def test_image_to_audio_route_names_the_decoder_it_used(client):
    pixels = np.full((512, 101), 255, np.uint8)
    pixels[100:110, ::10] = 0
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    made = {}
    for decoder in DECODERS:
        r = client.post(
            "/api/v1/image_to_audio",
            files={"image": ("x.png", buf.getvalue(), "image/png")},
            data={"decoder": decoder},
        )
        assert r.status_code == 200, r.text
        assert r.json()["parameters"]["decoder"] == decoder
        made[decoder] = decode_data_url(r.json()["audio"])
    assert len(set(made.values())) == 3  # three decoders, three different sounds


def test_jam_stream_decoder_from_start_and_settings():
    spy = DecoderSpy()
    start = {"type": "start", "prompts": ["jazz"], "num_inference_steps": 2,
             "seed_image": "og_beat", "buffer_ahead": 1, "decoder": "vocoder"}  # fmt: skip
    with make_client(spy, decoder="original") as c, c.websocket_connect("/api/v1/jam") as ws:
        ws.send_json(start)
        first = receive(ws, "clip")
        ws.send_json({"type": "played", "seq": first["seq"]})
        ws.send_json({"type": "settings", "decoder": None})  # back to the server's default
        receive(ws, "started")
        clip = receive(ws, "clip")
        ws.send_json({"type": "played", "seq": clip["seq"]})
        receive(ws, "clip")
        ws.send_json({"type": "settings", "decoder": "wavenet"})
        assert "decoder" in receive(ws, "error")["message"]
    # vocoder until the settings change (a clip in flight may finish with it), then the default
    n = spy.decoders.count("vocoder")
    assert n >= 1 and spy.decoders == ["vocoder"] * n + ["original"] * (len(spy.decoders) - n)
    assert spy.decoders[-1] == "original"
