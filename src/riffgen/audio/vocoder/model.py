"""A Vocos-style vocoder for Riffusion spectrogram images: mel frames -> STFT -> waveform.

Why this shape (Siuzdak, "Vocos", 2023): a ConvNeXt backbone runs at the image's frame rate
(one frame per 10 ms column) and predicts, per frame, the magnitude and phase of a short STFT
whose hop equals the image's hop; an inverse STFT turns that into samples. No upsampling
layers, so it costs a few matrix products per column: fast on a CPU.

The head's STFT (window 1764 samples = 40 ms, hop 441 = 10 ms at 44.1 kHz) is much shorter
than the image's 100 ms analysis window, so transients are placed to within ~10 ms instead
of being smeared over 100 ms as Griffin-Lim on the image's own STFT does. Only the bins below
the image's top frequency are predicted: the image holds nothing above it.

Phase is not predicted frame by frame as in Vocos. A convolutional network is blind to
absolute time, so for a steady input it would output the same phase in every frame, i.e.
only partials at multiples of the frame rate (100 Hz). Instead each frame predicts, per bin,
how far the phase advances since the previous frame (the bin's centre-frequency advance plus
a learned deviation: the partial's offset from the bin centre), a frame-local phase, and a
gate between them::

    carried = phase[t - 1] + advance[t]
    phase[t] = carried + (1 - g[t]) * wrap(local[t] - carried)     # wrap to (-pi, pi]

g near 1 lets a sustained partial run on coherently; g near 0 re-anchors the phase, which an
onset needs (an impulse has phases aligned across bins, which an accumulated phase has lost).

One backbone serves several mel counts (the 512-mel Riffusion format and the 128-mel mini
format): each has its own input projection, everything after it is shared.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn

from riffgen.audio.params import SpectrogramParams

# The image parameters (besides the mel count) a vocoder is trained for; stereo images are
# decoded one channel at a time, so ``stereo`` is not among them.
IMAGE_FIELDS = (
    "sample_rate",
    "step_size_ms",
    "window_duration_ms",
    "padded_duration_ms",
    "min_frequency",
    "max_frequency",
    "power_for_image",
)
# Network output -> log-magnitude clamp: exp(12) is far above any magnitude in training.
MAX_LOG_MAGNITUDE = 12.0


@dataclass(frozen=True)
class VocoderConfig:
    """Shape of a :class:`Vocoder` and the image format it reads.

    ``mels``: the mel counts it accepts (one input projection each). ``n_fft``: the head's
    STFT size in samples (window = n_fft, Hann; hop = the image's hop). ``dim`` /
    ``intermediate``: ConvNeXt channel widths; ``layers`` blocks; ``kernel`` the depthwise
    kernel in frames; ``deviation`` the phase-advance range (see the field). ``image``: the
    :data:`IMAGE_FIELDS` of the spectrogram images.
    """

    mels: tuple[int, ...] = (512, 128)
    n_fft: int = 1764
    dim: int = 256
    intermediate: int = 768
    layers: int = 8
    kernel: int = 7
    # Largest phase advance off the bin centre, in pi radians per frame. A bin must follow a
    # partial anywhere in its window's main lobe (+-2 bins for Hann, which at hop = n_fft / 4
    # is +-pi): with less (v0 had 1/4) the bins beside a partial turn at their own centre
    # frequency, beat against it and turn it into noise.
    deviation: float = 1.0
    # A linear map from each column's log mel levels straight to the head, beside the
    # backbone: the 512 mel rows hold finer pitch detail below ~3 kHz than the head's bins,
    # and the backbone's ``dim`` channels are a bottleneck for it.
    skip: bool = True
    image: dict[str, Any] = field(
        default_factory=lambda: {k: getattr(SpectrogramParams(), k) for k in IMAGE_FIELDS}
    )

    @property
    def sample_rate(self) -> int:
        return int(self.image["sample_rate"])

    @property
    def hop(self) -> int:
        """Samples per frame (the image's column step)."""
        return self.params(self.mels[0]).hop_length

    @property
    def bins(self) -> int:
        """Head STFT bins predicted: 0 Hz up to the image's max frequency, inclusive."""
        top = self.image["max_frequency"] * self.n_fft / self.sample_rate
        return min(int(math.floor(top)) + 1, self.n_fft // 2 + 1)

    def params(self, n_mels: int) -> SpectrogramParams:
        """The (mono) spectrogram parameters of the images with ``n_mels`` rows."""
        return SpectrogramParams(num_frequencies=n_mels, **self.image)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["mels"] = list(self.mels)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VocoderConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("deviation", 0.25)  # weights saved before the field (v0) used pi/4
        known.setdefault("skip", False)  # and had no skip path
        if "mels" in known:
            known["mels"] = tuple(int(m) for m in known["mels"])
        if "image" in known:
            known["image"] = {k: known["image"][k] for k in IMAGE_FIELDS}
        return cls(**known)


class HeadSpectrum(NamedTuple):
    """The head's spectrum before ``polar``: magnitude, the (unwrapped) phase, and the
    frame-local phase the gate pulls it towards."""

    magnitude: torch.Tensor
    phase: torch.Tensor
    local: torch.Tensor


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over time, LayerNorm, pointwise MLP, layer scale, residual."""

    def __init__(self, dim: int, intermediate: int, kernel: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate, dim)
        # Small layer scale: every block starts near the identity, which keeps early training
        # stable without normalisation tricks (as in ConvNeXt/Vocos).
        self.gamma = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, dim, frames)
        h = self.dwconv(x).transpose(1, 2)
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class Vocoder(nn.Module):
    """Mel image features ``(batch, n_mels, frames)`` in [0, 1] -> waveform.

    The input is what the 8-bit image holds: ``(mel / mel.max()) ** power_for_image``
    (= ``(255 - pixel) / 255`` for an image whose darkest pixel is black).
    """

    def __init__(self, config: VocoderConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or VocoderConfig()
        self.embed = nn.ModuleDict(
            {str(m): nn.Conv1d(m, c.dim, c.kernel, padding=c.kernel // 2) for m in c.mels}
        )
        self.norm_in = nn.LayerNorm(c.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(c.dim, c.intermediate, c.kernel) for _ in range(c.layers)
        )
        self.norm_out = nn.LayerNorm(c.dim, eps=1e-6)
        # Per bin: log magnitude, phase-advance deviation, local phase, gate logit.
        self.head = nn.Linear(c.dim, 4 * c.bins)
        with torch.no_grad():  # start as steady partials at the bin centres (gate ~0.95)
            self.head.bias[3 * c.bins :] = 3.0
        if c.skip:  # starts at zero: the network first learns as without it
            self.skip = nn.ModuleDict({str(m): nn.Conv1d(m, 4 * c.bins, 1) for m in c.mels})
            for conv in self.skip.values():
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
        k = torch.arange(c.bins, dtype=torch.float32)
        # A bin-centre partial advances 2 pi k hop / n_fft radians per frame.
        centre = (2 * math.pi * k * c.hop / c.n_fft) % (2 * math.pi)
        self.register_buffer("centre_advance", centre[:, None], persistent=False)
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)

    def frames(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(batch, n_mels, frames)`` -> per-frame head output ``(batch, 4 * bins,
        frames)``. Local in time (receptive field ``layers * (kernel - 1) + kernel`` frames),
        so it can run in chunks; :meth:`synthesize` then runs over the whole image."""
        n_mels = features.shape[1]
        if str(n_mels) not in self.embed:
            raise ValueError(f"this vocoder reads {self.config.mels} mel bins, not {n_mels}")
        # Centre the [0, 1] pixel scale: silence (0) and full scale (1) map to -1 and 1.
        x = self.embed[str(n_mels)](features * 2.0 - 1.0)
        x = self.norm_in(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.norm_out(x.transpose(1, 2))).transpose(1, 2)
        if self.config.skip:
            # log of the mel level (pixel ** (1 / power)), from the quietest pixel step up;
            # / 8 keeps it near unit scale (8-bit images span about -22..0).
            power = float(self.config.image["power_for_image"])
            level = torch.log(features.clamp_min(0.5 / 255)) / (8 * power)
            out = out + self.skip[str(n_mels)](level)
        return out

    def spectrum(self, out: torch.Tensor) -> torch.Tensor:
        """Head output ``(batch, 4 * bins, frames)`` -> complex STFT ``(batch, bins, frames)``."""
        head = self.magnitude_phase(out)
        return torch.polar(head.magnitude, head.phase)

    def magnitude_phase(self, out: torch.Tensor) -> HeadSpectrum:
        """Head output -> :class:`HeadSpectrum`, each part ``(batch, bins, frames)``.

        Training supervises the phases directly (see
        :func:`riffgen.training.decoder.phase_loss`), so they are returned before ``polar``.
        """
        log_mag, deviation, local, gate = out.chunk(4, dim=1)
        magnitude = torch.exp(log_mag.clamp(max=MAX_LOG_MAGNITUDE))
        advance = self.centre_advance + math.pi * self.config.deviation * torch.tanh(deviation)
        g = torch.sigmoid(gate)
        # The recurrence is sequential in time but cheap: one (batch, bins) update per frame.
        phase = [local[..., 0]]
        for t in range(1, out.shape[-1]):
            carried = phase[-1] + advance[..., t]
            # Pull towards the local phase along the shorter arc: a plain mix of unwrapped
            # angles would scale the accumulated phase and stall every partial.
            pull = local[..., t] - carried
            pull = torch.atan2(torch.sin(pull), torch.cos(pull))
            phase.append(carried + (1 - g[..., t]) * pull)
        return HeadSpectrum(magnitude, torch.stack(phase, dim=-1), local)

    def synthesize(self, out: torch.Tensor) -> torch.Tensor:
        """Head output ``(batch, 4 * bins, frames)`` -> waveform ``(batch, (frames - 1) * hop)``."""
        return self.waveform(self.spectrum(out))

    def waveform(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(batch, bins, frames)`` -> waveform ``(batch, (frames - 1) * hop)``."""
        c = self.config
        # Bins above the image's max frequency are zero: the picture says nothing about them.
        spec = nn.functional.pad(spec, (0, 0, 0, c.n_fft // 2 + 1 - spec.shape[1]))
        return torch.istft(
            spec,
            n_fft=c.n_fft,
            hop_length=c.hop,
            win_length=c.n_fft,
            window=self.window,
            center=True,
            length=(spec.shape[-1] - 1) * c.hop,
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(batch, n_mels, frames)`` -> waveform ``(batch, (frames - 1) * hop)``."""
        return self.synthesize(self.frames(features))


def features_from_mel(
    mel: torch.Tensor, power: float, *, peak: torch.Tensor | None = None
) -> torch.Tensor:
    """One image's decoded mel ``(channels, n_mels, frames)`` -> the vocoder's input in [0, 1].

    The image is normalised to its maximum over all channels (``peak``, when given: another
    mel decoded alongside, such as the channels' mean, keeps the image's scale), as the image
    format is: a quieter channel stays quieter, and the scale ``mel_from_image`` was given
    does not matter.
    """
    mel = mel.clamp_min(0)
    peak = mel.amax() if peak is None else peak
    return (mel / peak.clamp_min(1e-30)) ** power
