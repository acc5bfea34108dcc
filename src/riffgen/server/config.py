"""Server settings: limits, security and queueing, in one dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from riffgen.audio.decoders import DECODERS, DEFAULT_DECODER


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``create_app`` needs besides the model.

    Sizes in bytes, durations in seconds, widths in spectrogram columns (10 ms each by default).
    """

    api_key: str | None = None  # when set, /api/* and /run_inference/ need X-API-Key
    cors_origins: tuple[str, ...] = ()  # e.g. ("https://example.org",) or ("*",)
    # Browser origins besides the server's own that may open the jam websocket and POST
    # (cors_origins count too); "*" allows any.
    allowed_origins: tuple[str, ...] = ()
    # Host header names besides localhost and IP addresses (DNS rebinding guard); "*": any.
    allowed_hosts: tuple[str, ...] = ()
    max_queue: int = 4  # jobs waiting or running per worker; beyond it: 503 + Retry-After
    request_timeout_s: float = 300.0
    max_upload_bytes: int = 20 * 1024 * 1024  # multipart requests (audio, images)
    max_json_bytes: int = 256 * 1024  # every other request body
    max_headers: int = 100  # header lines per request; more is refused (431)
    max_header_bytes: int = 32 * 1024  # request line and headers together; more: 431
    body_idle_timeout_s: float = 15.0  # longest wait for the next piece of a request body
    body_timeout_s: float = 120.0  # a whole request body, start to end
    max_audio_s: float = 30.0  # longer uploads are refused (422)
    max_steps: int = 100  # num_inference_steps upper bound
    max_width: int = 2048  # widest spectrogram the server generates or decodes
    max_jam_sessions: int = 8
    model_name: str = "unknown"
    # How images become audio when a request does not say (and always for /run_inference/).
    decoder: str = DEFAULT_DECODER

    def __post_init__(self) -> None:
        if self.max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {self.max_queue}")
        if self.request_timeout_s <= 0:
            raise ValueError(f"request timeout must be > 0 s, got {self.request_timeout_s}")
        if self.body_idle_timeout_s <= 0 or self.body_timeout_s <= 0:
            raise ValueError("body timeouts must be > 0 s")
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}: use one of {', '.join(DECODERS)}")
        if self.max_width < 64 or self.max_width % 8:
            raise ValueError(f"max_width must be a multiple of 8 >= 64, got {self.max_width}")
