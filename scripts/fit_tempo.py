#!/usr/bin/env python
"""Fit the tempo estimator's candidate weights on rhythmic training renders.

    .venv/bin/python scripts/fit_tempo.py [--fit-seeds 7 9 10] [--check-seeds 8] [--n 500]

Renders the rhythmic clips among the first N training clips of each dataset seed (FluidSynth,
seen through the mini model's 128-mel image format, cached under ``build/tempo``), fits
:data:`riffgen.evaluation.tempo.WEIGHTS` by a softmax over candidate periods (the target is
the true period, +-2 %), and prints the weights to paste with the old and new estimator's
scores on the check seeds. The evaluation's own prompts (dataset seed 0) are never used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

Renders = tuple[np.ndarray, np.ndarray]  # mels (k, 128, frames), true BPMs (k,)


def cached(path: Path, make: Callable[[], Renders]) -> Renders:
    """``make()``'s renders, saved to / loaded from ``path`` (FluidSynth is the slow part)."""
    if not path.exists():
        mels, bpms = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, mels=np.stack(mels), bpms=np.asarray(bpms, dtype=np.float64))
    data = np.load(path)
    return data["mels"], data["bpms"]


def rhythmic_renders(seed: int, n: int, cache: Path) -> Renders:
    """The rhythmic clips among the first ``n`` training clips of dataset ``seed``."""
    from riffgen.audio import SpectrogramParams, audio_to_image
    from riffgen.evaluation.features import mel_from_clip_image
    from riffgen.evaluation.report import as_truth
    from riffgen.synth.dataset import clip_seed, generate_clip

    def make() -> tuple[list, list]:
        params = SpectrogramParams(num_frequencies=128)
        mels, bpms = [], []
        for i in range(n):
            s = clip_seed(seed, "train", i)
            truth = as_truth(generate_clip(s, render=False).label)
            if truth.rhythmic:
                clip = generate_clip(s)
                image = audio_to_image(clip.audio, clip.sample_rate, params)
                mels.append(mel_from_clip_image(image))
                bpms.append(float(truth.bpm))
        return mels, bpms

    return cached(cache / f"train_{seed}_{n}.npz", make)


def beat_renders(bpms: range, cache: Path) -> Renders:
    """riffgen's own beats at each of ``bpms``: the tempo-seed backbeat image and every
    synth groove whose range holds the tempo, played alone (a clear beat must read right)."""
    from riffgen.audio import SpectrogramParams, audio_to_image
    from riffgen.diffusion.tempo_seed import tempo_seed_image
    from riffgen.evaluation.features import mel_from_clip_image
    from riffgen.synth.compose import ClipSpec, PartSpec
    from riffgen.synth.dataset import generate_clip
    from riffgen.synth.instruments import GROOVES

    def make() -> tuple[list, list]:
        params = SpectrogramParams(num_frequencies=128)
        mels, truths = [], []
        for bpm in bpms:
            mels.append(mel_from_clip_image(tempo_seed_image(bpm, params, width=512)))
            truths.append(float(bpm))
            for groove, (_, lo, hi) in sorted(GROOVES.items()):
                if lo <= bpm <= hi:
                    part = PartSpec("drums", 0, "beat", "lead")
                    spec = ClipSpec(parts=(part,), bpm=bpm, key=None, mode=None, groove=groove)
                    clip = generate_clip(bpm, spec=spec)
                    image = audio_to_image(clip.audio, clip.sample_rate, params)
                    mels.append(mel_from_clip_image(image))
                    truths.append(float(bpm))
        return mels, truths

    return cached(cache / f"beats_{bpms.start}_{bpms.stop}_{bpms.step}.npz", make)


def main(argv: list[str] | None = None) -> int:
    from riffgen.evaluation import tempo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-seeds", type=int, nargs="+", default=[7, 9, 10])
    parser.add_argument("--check-seeds", type=int, nargs="+", default=[8])
    parser.add_argument("--n", type=int, default=500, help="training clips drawn per seed")
    parser.add_argument("--cache", type=Path, default=Path("build/tempo"))
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--beat-step", type=int, default=2, help="BPM step of the solo beats")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    def load(seeds: list[int], beats: range) -> Renders:
        parts = [rhythmic_renders(s, args.n, args.cache) for s in seeds]
        if len(beats):
            parts.append(beat_renders(beats, args.cache))
        return np.concatenate([m for m, _ in parts]), np.concatenate([b for _, b in parts])

    # Even BPMs for fitting, odd ones for the check.
    fit_mels, fit_bpms = load(args.fit_seeds, range(60, 181, args.beat_step))
    lags = tempo.candidate_lags(fit_mels.shape[-1] - 1, frame_rate=100.0, min_bpm=60, max_bpm=180)
    x = torch.tensor(
        np.stack([tempo.candidate_features(m, lags, frame_rate=100.0) for m in fit_mels])
    )
    true_lag = 6000.0 / fit_bpms[:, None]
    target = np.exp(-0.5 * ((lags[None, :] - true_lag) / (0.02 * true_lag)) ** 2)
    target = torch.tensor(target / target.sum(axis=1, keepdims=True))

    w = torch.zeros(x.shape[-1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        log_p = torch.log_softmax(10.0 * (x @ w), dim=1)  # x10: a sharper softmax, same argmax
        loss = -(target * log_p).sum(dim=1).mean() + args.l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    fitted = tuple(round(float(v), 4) for v in w.detach())
    print(f"fitted on {len(fit_bpms)} renders (seeds {args.fit_seeds})")
    print(f"WEIGHTS = {fitted}")

    checks = {
        f"renders of seeds {args.check_seeds}": load(args.check_seeds, range(0)),
        "solo beats at odd BPMs": beat_renders(range(61, 180, args.beat_step), args.cache),
    }
    shipped = tempo.WEIGHTS
    try:  # the estimator reads the module's WEIGHTS; put the shipped ones back whatever happens
        for name, weights in (("shipped WEIGHTS", shipped), ("fitted", fitted)):
            tempo.WEIGHTS = weights
            for what, (mels, bpms) in checks.items():
                pairs = [
                    (tempo.estimate_tempo_from_mel(m), t) for m, t in zip(mels, bpms, strict=True)
                ]
                strict = np.mean([tempo.tempo_matches(e, t) for e, t in pairs])
                octave = np.mean([tempo.tempo_matches(e, t, octave=True) for e, t in pairs])
                print(
                    f"{name}, {len(pairs)} {what}: strict {100 * strict:.1f}%, "
                    f"half/double {100 * octave:.1f}%"
                )
    finally:
        tempo.WEIGHTS = shipped
    return 0


if __name__ == "__main__":
    sys.exit(main())
