"""Prompt adherence of a text-to-music model: does what it makes match what was asked?

The prompts are the synthetic dataset's test prompts (:func:`riffgen.synth.prompt_set`):
``seen`` (training wording and instrument/style pairs, new seeds), ``heldout_template``
(paraphrases whose wording never appears in training), ``heldout_combo`` (lead
instrument/style pairs never seen in training) and ``heldout_words`` (new clips whose
instrument names are rewritten as synonyms, slang and model names no caption uses:
:mod:`riffgen.evaluation.aliases`) and ``blind_words`` (the same with names written blind to
the instrument lexicon). For each prompt the model generates a
clip; the FluidSynth render of the same arrangement is the reference. Both go through the
model's own spectrogram format and the instrument-family classifier (trained on renders,
never on generated clips), and rhythmic prompts that name their BPM through the tempo
estimator (a prompt that only says "fast" asks for a band, not a tempo within 10%).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from riffgen.audio import SpectrogramParams, audio_to_image
from riffgen.errors import RiffgenError
from riffgen.evaluation.classifier import InstrumentClassifier
from riffgen.evaluation.features import features_from_mel, mel_from_clip_image, single_thread
from riffgen.evaluation.report import (
    ClipTruth,
    EvalReport,
    PromptSetRow,
    as_truth,
    format_table,
    score,
    score_groups,
)
from riffgen.evaluation.tempo import estimate_tempo_from_mel

HELD_OUT_SETS = ("seen", "heldout_template", "heldout_combo", "heldout_words", "blind_words")
# Sets made from ``seen``'s clips of another dataset seed, each instrument name reworded from
# an alias table: (seed offset, table name in riffgen.evaluation.aliases).
_REWORDED = {"heldout_words": (1, "ALIASES"), "blind_words": (2, "BLIND_ALIASES")}


@dataclass(frozen=True)
class AdherenceConfig:
    """What to evaluate: ``n_per_set`` prompts from each of ``prompt_sets`` (the dataset
    made with ``dataset_seed``), each generated once with ``steps`` denoising steps,
    classifier-free ``guidance`` and seed ``seed + index``."""

    n_per_set: int = 20
    prompt_sets: tuple[str, ...] = HELD_OUT_SETS
    steps: int = 20
    guidance: float = 7.0
    seed: int = 0
    dataset_seed: int = 0

    def check(self) -> None:
        if self.n_per_set < 1:
            raise RiffgenError(f"need at least 1 prompt per set, got {self.n_per_set}")
        if self.steps < 1:
            raise RiffgenError(f"need at least 1 denoising step, got {self.steps}")
        if self.seed < 0:
            raise RiffgenError(f"seed must be >= 0, got {self.seed}")
        unknown = [s for s in self.prompt_sets if s not in HELD_OUT_SETS]
        if unknown or not self.prompt_sets:
            raise RiffgenError(
                f"unknown prompt set(s) {unknown or '(none)'}: choose from {', '.join(HELD_OUT_SETS)}"
            )


@dataclass
class ClipResult:
    """One prompt's outcome (for the JSON report and for listening to failures)."""

    prompt_set: str
    prompt: str
    families: list[str]
    bpm: float | None
    generated_top1: str
    real_top1: str
    generated_bpm: float | None
    real_bpm: float | None


@dataclass
class AdherenceResult:
    """Reports per prompt set (plus ``"all"``) for generated clips and for real renders."""

    generated: dict[str, EvalReport]
    real: dict[str, EvalReport]
    clips: list[ClipResult] = field(default_factory=list)
    seconds_generating: float = 0.0
    seconds_total: float = 0.0

    def rows(self) -> list[PromptSetRow]:
        return [
            PromptSetRow(
                name,
                rep.n,
                rep.top1,
                self.real[name].top1,
                rep.chance,
                rep.tempo_octave,
                rep.tempo_strict,
                self.real[name].tempo_strict,
            )
            for name, rep in self.generated.items()
        ]

    def table(self) -> str:
        return format_table(self.rows())

    def to_json(self) -> dict:
        def rep(r: EvalReport) -> dict:
            return {
                "n": r.n,
                "top1": r.top1,
                "lead_top1": r.lead_top1,
                "chance": r.chance,
                "uniform_chance": r.uniform_chance,
                "tempo_strict": r.tempo_strict,
                "tempo_octave": r.tempo_octave,
                "n_tempo": r.n_tempo,
                "per_family_lead": r.per_family,
            }

        return {
            "generated": {k: rep(v) for k, v in self.generated.items()},
            "real": {k: rep(v) for k, v in self.real.items()},
            "clips": [c.__dict__ for c in self.clips],
            "seconds_generating": self.seconds_generating,
            "seconds_total": self.seconds_total,
        }


def _describe(
    audio: np.ndarray, sample_rate: int, params: SpectrogramParams, *, rhythmic: bool
) -> tuple[np.ndarray, float | None]:
    """(features, tempo) of audio seen through the model's spectrogram format."""
    with single_thread():
        mel = mel_from_clip_image(audio_to_image(audio, sample_rate, params))
    return features_from_mel(mel), (estimate_tempo_from_mel(mel) if rhythmic else None)


def names_bpm(caption: str, bpm: float | None) -> bool:
    """Whether ``caption`` states ``bpm`` as a number (``"... at 120 bpm"``)."""
    import re

    return bpm is not None and re.search(rf"(?<!\d){round(bpm)}(?!\d)", caption) is not None


def held_out_clips(name: str, *, n: int, dataset_seed: int) -> list:
    """The ``n`` rendered clips (:class:`riffgen.synth.dataset.Clip`) of prompt set ``name``.

    ``heldout_words`` and ``blind_words`` are ``seen``'s wording and pairs on other clips
    (the dataset seed + 1 and + 2, so not the ``seen`` set's own), every instrument name
    reworded by an alias (:mod:`riffgen.evaluation.aliases`).
    """
    import dataclasses

    from riffgen.evaluation import aliases
    from riffgen.synth import prompt_set

    if name not in _REWORDED:
        return prompt_set(name, n=n, seed=dataset_seed, render=True)
    offset, table = _REWORDED[name]
    clips = prompt_set("seen", n=n, seed=dataset_seed + offset, render=True)
    return [
        dataclasses.replace(
            clip,
            caption=aliases.reword(
                clip.caption,
                clip.label["families"],
                np.random.default_rng(clip.seed),
                table=getattr(aliases, table),
            ),
        )
        for clip in clips
    ]


def evaluate_adherence(
    pipe,
    classifier: InstrumentClassifier,
    config: AdherenceConfig | None = None,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> AdherenceResult:
    """Generate one clip per held-out prompt with ``pipe`` (a :class:`RiffgenPipeline`) and
    score it and the prompt's real render. ``progress(done, total, prompt)`` is called
    after each clip."""
    config = config or AdherenceConfig()
    config.check()
    start = time.perf_counter()
    params: SpectrogramParams = pipe.spectrogram_params
    prompts = [
        (name, clip)
        for name in config.prompt_sets
        for clip in held_out_clips(name, n=config.n_per_set, dataset_seed=config.dataset_seed)
    ]
    gen_feats, real_feats, gen_tempo, real_tempo, truths, results = [], [], [], [], [], []
    generating = 0.0
    for index, (name, clip) in enumerate(prompts):
        truth = as_truth(clip.label)
        timed = truth.rhythmic and names_bpm(clip.caption, truth.bpm)
        t0 = time.perf_counter()
        out = pipe.text_to_audio(
            clip.caption,
            seed=config.seed + index,
            num_inference_steps=config.steps,
            guidance=config.guidance,
        )
        generating += time.perf_counter() - t0
        gf, gt = _describe(out.audio, out.sample_rate, params, rhythmic=timed)
        rf, rt = _describe(clip.audio, clip.sample_rate, params, rhythmic=timed)
        gen_feats.append(gf)
        real_feats.append(rf)
        gen_tempo.append(gt)
        real_tempo.append(rt)
        truths.append(truth)
        results.append(
            ClipResult(name, clip.caption, list(truth.families), truth.bpm, "", "", gt, rt)
        )
        if progress:
            progress(index + 1, len(prompts), clip.caption)
    gen_pred = classifier.predict(np.stack(gen_feats))
    real_pred = classifier.predict(np.stack(real_feats))
    for r, g, re in zip(results, gen_pred, real_pred, strict=True):
        r.generated_top1, r.real_top1 = g, re
    keys = [r.prompt_set for r in results]
    return AdherenceResult(
        generated=_by_set(keys, gen_pred, truths, gen_tempo, classifier.families),
        real=_by_set(keys, real_pred, truths, real_tempo, classifier.families),
        clips=results,
        seconds_generating=generating,
        seconds_total=time.perf_counter() - start,
    )


def _by_set(
    keys: Sequence[str],
    predictions: Sequence[str],
    truths: Sequence[ClipTruth],
    tempos: Sequence[float | None],
    families: Sequence[str],
) -> dict[str, EvalReport]:
    """Reports per prompt set, then ``"all"`` when there is more than one set."""
    reports = score_groups(keys, predictions, truths, tempos, families)
    if len(reports) > 1:
        reports["all"] = score(predictions, truths, tempos, families)
    return reports
