"""Prompt-adherence evaluation: instrument-family classifier, tempo estimator, report tables."""

from riffgen.evaluation.classifier import ClassifierTrainConfig, InstrumentClassifier
from riffgen.evaluation.features import (
    FEATURE_VERSION,
    features_from_audio,
    features_from_image,
    features_from_mel,
)
from riffgen.evaluation.report import (
    ClipTruth,
    EvalReport,
    PromptSetRow,
    as_truth,
    default_classifier,
    evaluate_clips,
    format_table,
    prompt_set_rows,
)
from riffgen.evaluation.tempo import estimate_tempo, estimate_tempo_from_mel, tempo_matches

__all__ = [
    "FEATURE_VERSION",
    "ClipTruth",
    "EvalReport",
    "InstrumentClassifier",
    "PromptSetRow",
    "ClassifierTrainConfig",
    "as_truth",
    "default_classifier",
    "estimate_tempo",
    "estimate_tempo_from_mel",
    "evaluate_clips",
    "features_from_audio",
    "features_from_image",
    "features_from_mel",
    "format_table",
    "prompt_set_rows",
    "tempo_matches",
]
