"""The whole mini recipe at toy scale: data, VAE, UNet, fp16 export, loading, generation."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from riffgen.mini.config import SCALES
from riffgen.models.configs import MINI_SPECTROGRAM

pytestmark = pytest.mark.slow

TINY = dataclasses.replace(
    SCALES["quick"],
    n_clips=4,
    vae_steps=4,
    vae_batch=2,
    vae_crop=64,
    unet_steps=4,
    unet_batch=2,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from riffgen.mini.recipe import REPORT, RunOptions, run

    work = tmp_path_factory.mktemp("mini_work")
    out = tmp_path_factory.mktemp("mini_models") / "mini"
    run(
        RunOptions(
            work_dir=work,
            out_dir=out,
            scale=TINY,
            workers=1,
            device="cpu",
            progress=False,
            check_steps=2,
            classifier_out=work / "classifier.safetensors",
            eval_prompts=1,
        )
    )
    return work, out, json.loads((work / REPORT).read_text())


def test_run_reports_every_stage(trained):
    _, _, report = trained
    assert set(report["stages"]) == {
        "data",
        "classifier",
        "build",
        "vae",
        "unet",
        "export",
        "check",
        "adherence",
    }
    adherence = report["adherence"]
    sets = {"seen", "heldout_template", "heldout_combo", "heldout_words", "blind_words", "all"}
    assert set(adherence["generated"]) == sets
    assert adherence["generated"]["all"]["n"] == 5 and adherence["real"]["all"]["n"] == 5
    assert report["check"]["audio_seconds"] == pytest.approx(5.11, abs=0.01)
    assert report["stages"]["export"]["unet_mb"] + report["stages"]["export"]["vae_mb"] < 50


def test_exported_folder_is_small_fp16_and_references_the_encoder(trained):
    from safetensors import safe_open

    _, out, _ = trained
    for part in ("unet", "vae"):
        with safe_open(str(out / part / "diffusion_pytorch_model.safetensors"), "pt") as f:
            key = next(iter(f.keys()))
            assert f.get_tensor(key).dtype == torch.float16
    assert not list((out / "text_encoder").glob("*.safetensors"))  # 90 MB encoder not copied
    assert json.loads((out / "riffgen.json").read_text())["spectrogram"]["num_frequencies"] == (
        MINI_SPECTROGRAM.num_frequencies
    )


def test_pipeline_generates_prompt_dependent_audio(trained):
    from riffgen.diffusion import RiffgenPipeline

    _, out, _ = trained
    pipe = RiffgenPipeline.from_pretrained(str(out), device="cpu", dtype="fp32")
    # mini v2's conditioning: the frozen MiniLM encoder plus the prompt's tempo token
    assert type(pipe.text_encoder).__name__ == "TempoTextEncoder"
    assert type(pipe.text_encoder.encoder).__name__ == "BertModel"
    assert pipe.spectrogram_params == MINI_SPECTROGRAM
    a = pipe.text_to_audio("a calm solo piano melody", num_inference_steps=3, seed=1)
    b = pipe.text_to_audio("fast heavy drums and distorted bass", num_inference_steps=3, seed=1)
    again = pipe.text_to_audio("a calm solo piano melody", num_inference_steps=3, seed=1)
    assert a.image.size == (512, MINI_SPECTROGRAM.num_frequencies)
    assert a.audio.shape[-1] == MINI_SPECTROGRAM.num_samples(512)
    assert a.sample_rate == 44100
    assert np.isfinite(a.audio).all() and np.abs(a.audio).max() > 0
    assert not np.array_equal(np.asarray(a.image), np.asarray(b.image))
    np.testing.assert_array_equal(np.asarray(a.image), np.asarray(again.image))


def test_model_mini_loads_the_shipped_folder(trained, monkeypatch):
    from riffgen.models import registry

    _, out, _ = trained
    monkeypatch.setattr(registry, "shipped_mini_dir", lambda: out)
    loaded = registry.load_components("mini", dtype=torch.float32)
    assert loaded.kind == "mini" and loaded.source_dir == out
    assert loaded.tokenizer.model_max_length == 32


def test_training_loader_reads_the_mini_folder(trained):
    from riffgen.training.model import load_components

    work, _, _ = trained
    components = load_components(work / "unet")
    assert components.text_encoder.config.use_attention_mask
    assert components.unet.config.cross_attention_dim == 384


def test_training_base_mini_uses_the_shipped_folder(trained, monkeypatch):
    """`riffgen train --base mini` fine-tunes the shipped folder (markers kept, no 90 MB copy)."""
    from riffgen.models import registry
    from riffgen.training.model import load_components

    _, out, _ = trained
    monkeypatch.setattr(registry, "shipped_mini_dir", lambda: out)
    components = load_components("mini")
    assert components.source_dir == out


def test_a_second_stage_fine_tunes_and_keeps_the_classifier(trained, tmp_path):
    """`make train-mini`'s stage 2: --init-from the stage-1 model, --keep-classifier."""
    from riffgen.mini.recipe import RunOptions, run

    work, out, _ = trained
    classifier = work / "classifier.safetensors"
    before = classifier.read_bytes()
    stage2 = tmp_path / "mini2"
    report = run(
        RunOptions(
            work_dir=tmp_path / "work2",
            out_dir=stage2,
            scale=TINY,
            dataset=work / "data",
            init_from=out,
            device="cpu",
            progress=False,
            check_steps=2,
            classifier_out=classifier,
            fit_classifier=False,
            eval_prompts=0,
        )
    )
    assert set(report["stages"]) == {"build", "unet", "export", "check"}  # no VAE, no classifier
    assert classifier.read_bytes() == before
    assert (stage2 / "vae" / "diffusion_pytorch_model.safetensors").read_bytes() == (
        out / "vae" / "diffusion_pytorch_model.safetensors"
    ).read_bytes()
    assert json.loads((stage2 / "text_encoder" / "riffgen_text_encoder.json").read_text())[
        "tempo_token"
    ]
