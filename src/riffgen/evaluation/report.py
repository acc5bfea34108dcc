"""Prompt-adherence reports: classifier accuracy vs chance, tempo accuracy, printed tables.

``riffgen evaluate --model mini`` is meant to: generate clips for each held-out prompt set,
call :func:`evaluate_clips` on them and on real renders of the same prompts, and print
:func:`format_table` of the :class:`PromptSetRow` rows from :func:`prompt_set_rows`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from riffgen.errors import RiffgenError
from riffgen.evaluation.classifier import InstrumentClassifier
from riffgen.evaluation.features import (
    features_from_audio,
    features_from_mel,
    mel_from_audio,
    mel_from_clip_image,
    single_thread,
)
from riffgen.evaluation.tempo import estimate_tempo_from_mel, tempo_matches

RHYTHMIC_STYLES = frozenset({"beat", "riff", "arpeggio"})


@dataclass(frozen=True)
class ClipTruth:
    """What a clip should contain: families (lead first) and, when known, tempo and style."""

    families: tuple[str, ...]
    bpm: float | None = None
    style: str | None = None

    @property
    def lead(self) -> str:
        return self.families[0]

    @property
    def rhythmic(self) -> bool:
        """Has a clear pulse: drums play, or the lead style repeats on a grid."""
        return "drums" in self.families or (self.style in RHYTHMIC_STYLES)


def as_truth(label) -> ClipTruth:
    """A label as :class:`ClipTruth`: a family name, a list of them, a synth label dict
    (``families``, optional ``bpm``/``style``) or anything with ``to_label()``."""
    if hasattr(label, "to_label"):
        label = label.to_label()
    if isinstance(label, str):
        return ClipTruth((label,))
    if isinstance(label, Mapping):
        fams = label.get("families") or ([label["lead"]] if "lead" in label else None)
        if not fams:
            raise RiffgenError("a clip label needs 'families' (or 'lead')")
        bpm = label.get("bpm")
        return ClipTruth(tuple(fams), float(bpm) if bpm else None, label.get("style"))
    if isinstance(label, Sequence) and label and all(isinstance(x, str) for x in label):
        return ClipTruth(tuple(label))
    raise RiffgenError(f"cannot read a clip label from {type(label).__name__}")


@dataclass
class EvalReport:
    """Scores of one set of clips. Accuracies are fractions in [0, 1] (None: not measured).

    ``top1``: top-1 family is one of the clip's families. ``lead_top1``: it is the lead.
    ``chance``: the best constant guess's ``top1`` on this set (always naming the family
    most clips contain); ``uniform_chance``: a uniformly random guess's expected ``top1``.
    ``tempo_strict``: estimate within 10 % of the true BPM, over rhythmic clips with a
    known BPM; ``tempo_octave``: half or double also counts.
    """

    n: int
    top1: float
    lead_top1: float
    chance: float
    uniform_chance: float
    tempo_strict: float | None
    tempo_octave: float | None
    n_tempo: int
    per_family: dict[str, float] = field(default_factory=dict)
    predictions: list[str] = field(default_factory=list)
    tempos: list[float | None] = field(default_factory=list)

    def summary(self) -> str:
        tempo = (
            f", tempo {self.tempo_strict:.1%} strict / {self.tempo_octave:.1%} octave "
            f"(n={self.n_tempo})"
            if self.tempo_strict is not None
            else ""
        )
        return (
            f"n={self.n}: top-1 {self.top1:.1%} (lead {self.lead_top1:.1%}), "
            f"chance {self.chance:.1%} (uniform {self.uniform_chance:.1%}){tempo}"
        )


def _clip_features(item) -> tuple[np.ndarray, np.ndarray]:
    """(feature vector, mel) of an (audio, sr) pair or a spectrogram image."""
    with single_thread():
        mel = (
            mel_from_clip_image(item)
            if isinstance(item, Image.Image)
            else mel_from_audio(item[0], int(item[1]))
        )
    return features_from_mel(mel), mel


def evaluate_clips(
    clips: Iterable[tuple],
    *,
    classifier: InstrumentClassifier | None = None,
    tempo: bool = True,
) -> EvalReport:
    """Score ``clips``: each ``(audio, sample_rate, label)`` or ``(image, label)``.

    ``audio`` is float ``[n]`` or ``[channels, n]``; ``label`` anything :func:`as_truth`
    reads. ``classifier`` defaults to :func:`default_classifier`.
    """
    classifier = classifier or default_classifier()
    feats, truths, tempos = [], [], []
    for clip in clips:
        if len(clip) == 3:
            audio, sr, label = clip
            f, mel = _clip_features((audio, sr))
        elif len(clip) == 2:
            image, label = clip
            f, mel = _clip_features(image)
        else:
            raise RiffgenError("clips must be (audio, sample_rate, label) or (image, label)")
        truth = as_truth(label)
        feats.append(f)
        truths.append(truth)
        tempos.append(estimate_tempo_from_mel(mel) if tempo and truth.rhythmic else None)
    if not truths:
        raise RiffgenError("no clips to evaluate")
    return score(classifier.predict(np.stack(feats)), truths, tempos, classifier.families)


def score(
    predictions: Sequence[str],
    truths: Sequence[ClipTruth],
    tempos: Sequence[float | None],
    families: Sequence[str],
) -> EvalReport:
    """Build an :class:`EvalReport` from top-1 predictions and estimated tempos."""
    n = len(truths)
    hit = [p in t.families for p, t in zip(predictions, truths, strict=True)]
    lead_hit = [p == t.lead for p, t in zip(predictions, truths, strict=True)]
    contains = Counter(f for t in truths for f in set(t.families))
    chance = max(contains.values()) / n
    uniform = float(np.mean([len(set(t.families)) / len(families) for t in truths]))
    per_family: dict[str, list[bool]] = {}
    for t, h in zip(truths, lead_hit, strict=True):
        per_family.setdefault(t.lead, []).append(h)
    strict, octave = [], []
    for est, t in zip(tempos, truths, strict=True):
        if est is None or t.bpm is None:
            continue
        strict.append(tempo_matches(est, t.bpm))
        octave.append(tempo_matches(est, t.bpm, octave=True))
    return EvalReport(
        n=n,
        top1=float(np.mean(hit)),
        lead_top1=float(np.mean(lead_hit)),
        chance=chance,
        uniform_chance=uniform,
        tempo_strict=float(np.mean(strict)) if strict else None,
        tempo_octave=float(np.mean(octave)) if octave else None,
        n_tempo=len(strict),
        per_family={f: float(np.mean(v)) for f, v in sorted(per_family.items())},
        predictions=list(predictions),
        tempos=list(tempos),
    )


def score_groups(
    keys: Sequence[str],
    predictions: Sequence[str],
    truths: Sequence[ClipTruth],
    tempos: Sequence[float | None],
    families: Sequence[str],
) -> dict[str, EvalReport]:
    """One :class:`EvalReport` per distinct ``keys[i]`` (clip ``i``'s group), in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return {
        name: score(
            [predictions[i] for i in idx],
            [truths[i] for i in idx],
            [tempos[i] for i in idx],
            families,
        )
        for name, idx in groups.items()
    }


@dataclass(frozen=True)
class PromptSetRow:
    """One table row: a prompt set's accuracy on generated clips vs real renders vs chance.

    ``tempo``/``real_tempo``: fraction of rhythmic clips whose estimated tempo is within
    10 % of the prompt's BPM; ``tempo_octave`` also counts half or double tempo.
    """

    prompt_set: str
    n: int
    accuracy: float | None  # None: no generated clips (a classifier check on renders only)
    real_accuracy: float | None
    chance: float
    tempo_octave: float | None = None
    tempo: float | None = None
    real_tempo: float | None = None


def prompt_set_rows(
    generated: Mapping[str, EvalReport], real: Mapping[str, EvalReport] | None = None
) -> list[PromptSetRow]:
    """Rows pairing each prompt set's report on generated clips with its real-render report."""
    real = real or {}
    return [
        PromptSetRow(
            name,
            rep.n,
            rep.top1,
            real[name].top1 if name in real else None,
            rep.chance,
            rep.tempo_octave,
            rep.tempo_strict,
            real[name].tempo_strict if name in real else None,
        )
        for name, rep in generated.items()
    ]


def format_table(rows: Sequence[PromptSetRow]) -> str:
    """A plain-text table: prompt set, n, instrument accuracy (generated, real renders,
    chance), tempo within 10 % (generated, real renders) and with half/double allowed."""

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    header = (
        "prompt set",
        "n",
        "accuracy",
        "real renders",
        "chance",
        "tempo ±10%",
        "real tempo",
        "tempo (oct.)",
    )
    body = [
        (
            r.prompt_set,
            str(r.n),
            pct(r.accuracy),
            pct(r.real_accuracy),
            pct(r.chance),
            pct(r.tempo),
            pct(r.real_tempo),
            pct(r.tempo_octave),
        )
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in (header, *body)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


DEFAULT_WEIGHTS_ENV = "RIFFGEN_CLASSIFIER"


CLASSIFIER_FILE = "instrument_classifier.safetensors"


def shipped_classifier_path() -> Path:
    """Where the package's classifier weights live (may be absent in a source tree)."""
    return Path(str(resources.files("riffgen") / "data" / "evaluation" / CLASSIFIER_FILE))


def default_classifier() -> InstrumentClassifier:
    """The classifier at ``$RIFFGEN_CLASSIFIER``, else the one shipped in the package
    (``riffgen/data/evaluation``, trained on renders of the mini dataset's training prompts)."""
    candidates = []
    if os.environ.get(DEFAULT_WEIGHTS_ENV):
        candidates.append(Path(os.environ[DEFAULT_WEIGHTS_ENV]))
    candidates.append(shipped_classifier_path())
    for path in candidates:
        if path.is_file():
            return InstrumentClassifier.load(path)
    raise RiffgenError(
        "no instrument classifier weights: train them with "
        "`python -m riffgen.evaluation train --data DIR --out W.safetensors` "
        f"and set {DEFAULT_WEIGHTS_ENV}=W.safetensors"
    )


__all__ = [
    "ClipTruth",
    "EvalReport",
    "PromptSetRow",
    "as_truth",
    "default_classifier",
    "evaluate_clips",
    "features_from_audio",
    "format_table",
    "prompt_set_rows",
    "score",
    "score_groups",
]
