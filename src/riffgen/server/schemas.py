"""Request and response bodies. Integers are accepted wherever a float is expected."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from riffgen.audio.decoders import DECODERS
from riffgen.server.seeds import NAME_PATTERN

MAX_PROMPT_CHARS = 1000  # the pipeline truncates to 77 tokens; this only bounds request size
MAX_SEED = 2**32 - 1

AudioFormatField = Literal["wav", "mp3", "ogg"]
DecoderField = Literal[DECODERS]  # type: ignore[valid-type]
DECODER_HELP = (
    "How the spectrogram becomes audio: griffin-lim, vocoder (falls back to griffin-lim for "
    "formats it was not trained for) or original; null: the server's default."
)
# The original app's own rollover test is ``alpha > 1 + 1e-3``: with an alphaVelocity such as
# 0.05 its float sums reach 1.0000000000000002, which /run_inference/ accepts as 1.
ALPHA_SLACK = 1e-3


def _empty_is_none(value: Any) -> Any:
    # The original app sends mask_image_id "" for ?maskImageId=none, and treats "" as no mask.
    return None if value == "" else value


Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
MaskName = Annotated[Name | None, BeforeValidator(_empty_is_none)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PromptModel(_Model):
    """One interpolation endpoint, as the original web app sends it."""

    prompt: str = Field(max_length=MAX_PROMPT_CHARS, description="What to play.")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT_CHARS)
    denoising: float = Field(0.75, ge=0.0, le=1.0, allow_inf_nan=False)
    guidance: float = Field(7.0, ge=0.0, le=50.0, allow_inf_nan=False)


class InferenceInput(_Model):
    """``POST /run_inference/`` body of the original riffusion-app."""

    alpha: float = Field(ge=0.0, le=1.0 + ALPHA_SLACK, allow_inf_nan=False)
    num_inference_steps: int = Field(50, ge=1)
    seed_image_id: str = Field("og_beat", pattern=NAME_PATTERN)
    mask_image_id: MaskName = Field(None, description='Mask image name; null or "": no mask.')
    start: PromptModel
    end: PromptModel

    @field_validator("alpha")
    @classmethod
    def _clamp_alpha(cls, alpha: float) -> float:
        return min(alpha, 1.0)


class InferenceOutput(_Model):
    image: str = Field(description="data:image/jpeg;base64,... spectrogram")
    audio: str = Field(description="data:audio/mpeg;base64,... MP3")
    duration_s: float


class TextToAudioRequest(_Model):
    prompt: str = Field(max_length=MAX_PROMPT_CHARS)
    negative_prompt: str | None = Field(None, max_length=MAX_PROMPT_CHARS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    num_inference_steps: int | None = Field(
        None,
        ge=1,
        description="Denoising steps; null or absent: the model's default (health's default_steps).",
    )
    guidance: float = Field(7.0, ge=0.0, le=50.0, allow_inf_nan=False)
    width: int = Field(512, ge=64, multiple_of=8, description="Spectrogram columns (10 ms each).")
    format: AudioFormatField = "wav"
    decoder: DecoderField | None = Field(None, description=DECODER_HELP)
    tempo_seed: bool = Field(
        True,
        strict=True,
        description="A prompt that names its BPM starts from a beat at that tempo; false: noise.",
    )


class InterpolateRequest(_Model):
    start: PromptModel
    end: PromptModel
    alpha: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    num_inference_steps: int | None = Field(
        None,
        ge=1,
        description="Denoising steps; null or absent: the model's default (health's default_steps).",
    )
    seed_image_id: str = Field("og_beat", pattern=NAME_PATTERN)
    mask_image_id: MaskName = Field(None, description='Mask image name; null or "": no mask.')
    bpm: float | None = Field(
        None,
        ge=40.0,
        le=240.0,
        allow_inf_nan=False,
        description="Stretch the seed image to this tempo.",
    )
    format: AudioFormatField = "wav"
    decoder: DecoderField | None = Field(None, description=DECODER_HELP)


class ClipResponse(_Model):
    audio: str = Field(description="data URL of the audio in the requested format")
    image: str = Field(description="data:image/png;base64,... spectrogram")
    format: AudioFormatField
    duration_s: float
    sample_rate: int
    elapsed_s: float
    parameters: dict[str, Any] = Field(default_factory=dict)


class SeedImageInfo(_Model):
    name: str
    bpm: float | None
    width: int
    height: int
    duration_s: float
    is_mask: bool
    url: str


class HealthResponse(_Model):
    status: Literal["ok"]
    version: str
    model: str
    workers: list[dict[str, Any]]
    jam_sessions: int
    decoder: str = Field(description="the decoder of requests that name none")
    decoders: list[str]
    default_steps: int = Field(
        description="the denoising steps of requests that name none: the model's (mini: 20)"
    )
