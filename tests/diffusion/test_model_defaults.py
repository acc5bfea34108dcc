"""A model's own recommended settings (``riffgen.json`` "defaults": steps), and every place
that used 50 steps using them when the user names none: pipeline, CLI, batch, server."""

from __future__ import annotations

import functools
import json
import shutil

import pytest
from fastapi.testclient import TestClient

from riffgen.audio import SpectrogramParams
from riffgen.cli import main
from riffgen.diffusion.fake import FakePipeline
from riffgen.errors import RiffgenError
from riffgen.models import folder
from riffgen.models.registry import load_components, model_defaults_of


def _write_config(model_dir, data) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / folder.RIFFGEN_CONFIG).write_text(json.dumps(data))


# -- reading and validation ------------------------------------------------------------------
def test_defaults_read_and_absent(tmp_path):
    assert folder.read_model_defaults(tmp_path) == {}  # no riffgen.json
    _write_config(tmp_path, {"spectrogram": {}})
    assert folder.read_model_defaults(tmp_path) == {}
    _write_config(tmp_path, {"spectrogram": {}, "defaults": {"steps": 20}})
    assert folder.read_model_defaults(tmp_path) == {"steps": 20}


@pytest.mark.parametrize(
    ("defaults", "match"),
    [
        ({"steps": 0}, r"steps must be an integer from 1 to 1000, got 0"),
        ({"steps": 1001}, r"from 1 to 1000, got 1001"),
        ({"steps": "20"}, r"got '20'"),
        ({"steps": 20.0}, r"got 20.0"),
        ({"steps": True}, r"got True"),
        ({"steps": 20, "guidance": 7}, r"unknown key\(s\) in \"defaults\": 'guidance'"),
        ([20], r"\"defaults\" must be a JSON object"),
    ],
)
def test_bad_defaults_are_one_clear_error_naming_the_file(tmp_path, defaults, match):
    _write_config(tmp_path, {"spectrogram": {}, "defaults": defaults})
    with pytest.raises(RiffgenError, match=match) as info:
        folder.read_model_defaults(tmp_path)
    assert str(tmp_path / "riffgen.json") in str(info.value)
    assert "\n" not in str(info.value)


def test_writing_params_keeps_defaults_and_writing_defaults_keeps_params(tmp_path):
    params = SpectrogramParams(num_frequencies=64)
    folder.write_model_defaults(tmp_path, {"steps": 12})
    folder.write_spectrogram_params(tmp_path, params)
    assert folder.read_model_defaults(tmp_path) == {"steps": 12}
    assert folder.read_spectrogram_params(tmp_path) == params
    folder.write_model_defaults(tmp_path, {"steps": 9})
    assert folder.read_spectrogram_params(tmp_path) == params
    assert folder.read_model_defaults(tmp_path) == {"steps": 9}
    with pytest.raises(RiffgenError, match="from 1 to 1000"):
        folder.write_model_defaults(tmp_path, {"steps": 0})
    folder.write_model_defaults(tmp_path, {})
    assert "defaults" not in json.loads((tmp_path / "riffgen.json").read_text())


def test_shipped_mini_recommends_20_steps():
    from riffgen.mini.config import MINI_DEFAULT_STEPS

    assert MINI_DEFAULT_STEPS == 20
    assert model_defaults_of("mini") == {"steps": 20}
    assert model_defaults_of("debug") == {} and model_defaults_of("fake") == {}


# -- components and pipelines ----------------------------------------------------------------
@pytest.fixture(scope="module")
def model_with_defaults(debug_model_dir, tmp_path_factory):
    """The debug model's folder, recommending 7 steps."""
    path = tmp_path_factory.mktemp("defaults") / "seven"
    shutil.copytree(debug_model_dir, path)
    folder.write_model_defaults(path, {"steps": 7})
    return path


def test_components_and_pipeline_default_steps(debug_model_dir, model_with_defaults, tmp_path):
    from riffgen.diffusion import RiffgenPipeline
    from riffgen.models.registry import save_model

    assert load_components("debug").defaults == {}
    assert load_components(debug_model_dir).defaults == {}
    parts = load_components(model_with_defaults)
    assert parts.defaults == {"steps": 7}
    pipe = RiffgenPipeline.from_components(parts)
    assert pipe.default_steps == 7
    out = pipe.text_to_audio("x", width=16)  # no steps: the model's
    assert out.parameters["num_inference_steps"] == 7
    assert (
        pipe.text_to_audio("x", width=16, num_inference_steps=2).parameters["num_inference_steps"]
        == 2
    )
    image = out.image
    for result in (
        pipe.audio_to_audio("x", init_image=image),
        pipe.inpaint("x", init_image=image, start_s=0.0, end_s=0.05),
    ):
        assert result.parameters["num_inference_steps"] == 7
    from riffgen.diffusion.types import PromptInput

    mix = pipe.interpolate(PromptInput("a"), PromptInput("b"), 0.5, init_image=image)
    assert mix.parameters["num_inference_steps"] == 7
    pipe.default_steps = 3
    assert pipe.text_to_audio("x", width=16).parameters["num_inference_steps"] == 3
    with pytest.raises(RiffgenError, match="inference steps"):
        pipe.default_steps = 0
    # a loaded model's defaults travel when it is saved again
    assert folder.read_model_defaults(save_model(parts, tmp_path / "copy")) == {"steps": 7}


def test_debug_and_fake_pipelines_default_to_50(debug_pipeline):
    assert debug_pipeline.default_steps == 50
    assert FakePipeline().default_steps == 50


def test_mini_pipeline_default_steps_is_20():
    from riffgen.diffusion import RiffgenPipeline

    assert RiffgenPipeline.from_pretrained("mini", device="cpu", dtype="fp32").default_steps == 20


# -- CLI ---------------------------------------------------------------------------------------
def _generate(out, *extra) -> dict:
    args = ["generate", "beat", "-o", str(out), "--model", "mini", "--width", "16", "-q"]
    assert main([*args, "--device", "cpu", "--dtype", "fp32", *extra]) == 0
    return json.loads(out.with_suffix(".json").read_text())


def test_generate_mini_without_steps_records_the_models_20(tmp_path):
    meta = _generate(tmp_path / "a.wav")
    assert meta["parameters"]["num_inference_steps"] == 20
    assert meta["arguments"]["steps"] == 20
    meta = _generate(tmp_path / "b.wav", "--steps", "7")
    assert meta["parameters"]["num_inference_steps"] == 7
    assert meta["arguments"]["steps"] == 7


def test_steps_help_and_bounds_before_loading(capsys):
    try:
        assert main(["generate", "--help"]) == 0
    except SystemExit as exc:  # argparse's exit, if main lets it through
        assert exc.code == 0
    assert "the model's, 50 for riffusion, 20 for mini" in " ".join(capsys.readouterr().out.split())
    # a bad --steps is still refused before the (missing) model loads
    assert main(["generate", "x", "-o", "x.wav", "--model", "/nope", "--steps", "0"]) == 2
    assert "--steps is 0" in capsys.readouterr().err


# -- batch -------------------------------------------------------------------------------------
class StepsFake(FakePipeline):
    """Records the steps of every call (in this process: the batch runs locally)."""

    seen: list = []

    def text_to_audio(self, prompt, **kwargs):
        StepsFake.seen.append(kwargs.get("num_inference_steps"))
        return super().text_to_audio(prompt, **kwargs)


def test_batch_job_without_steps_uses_the_models_default(tmp_path):
    from riffgen.batch.run import RunSettings, run_batch

    model = tmp_path / "model"
    _write_config(model, {"spectrogram": {}, "defaults": {"steps": 7}})
    (model / folder.MODEL_INDEX).write_text("{}")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"prompt": "a", "id": "a", "width": 16})
        + "\n"
        + json.dumps({"prompt": "b", "id": "b", "width": 16, "steps": 3})
        + "\n"
    )
    settings = RunSettings(model=str(model), loader=functools.partial(StepsFake))
    assert settings.default_steps() == 7
    StepsFake.seen = []
    report = run_batch(jobs, tmp_path / "out", settings, quiet=True)
    assert [r.status for r in report.results] == ["done", "done"]
    assert StepsFake.seen == [7, 3]
    sidecar = json.loads((tmp_path / "out" / "a.json").read_text())
    assert sidecar["job"]["steps"] == 7
    # a rerun finds both done (the job is compared with its default filled in)
    again = run_batch(jobs, tmp_path / "out", settings, quiet=True)
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    assert RunSettings(model="fake").default_steps() == 50


# -- server ------------------------------------------------------------------------------------
class SpyFake(FakePipeline):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.steps: list = []

    def text_to_audio(self, prompt, **kw):
        self.steps.append(kw.get("num_inference_steps"))
        return super().text_to_audio(prompt, **kw)


@pytest.fixture
def spy_client():
    from riffgen.server import DictSeedRegistry, ModelWorker, ServerConfig, WorkerPool, create_app

    pipe = SpyFake(params=SpectrogramParams(num_frequencies=64, num_griffin_lim_iters=4))
    pipe.default_steps = 20  # as the mini model
    pool = WorkerPool([ModelWorker(pipe, max_queue=4, device="cpu:0")])
    app = create_app(pool, DictSeedRegistry({}), ServerConfig(allowed_hosts=("testserver",)))
    with TestClient(app) as client:
        yield client, pipe


def test_server_health_and_v1_requests_use_the_models_default(spy_client):
    client, pipe = spy_client
    assert client.get("/api/v1/health").json()["default_steps"] == 20
    body = {"prompt": "x", "width": 64}
    assert client.post("/api/v1/text_to_audio", json=body).status_code == 200
    assert client.post("/api/v1/text_to_audio", json={**body, "num_inference_steps": 5}).is_success
    assert client.post(
        "/api/v1/text_to_audio", json={**body, "num_inference_steps": None}
    ).is_success
    assert pipe.steps == [20, 5, 20]


def test_ray_remote_pipeline_answers_default_steps():
    from riffgen.server.ray_serve import RemotePipeline

    info = {"spectrogram_params": SpectrogramParams(), "default_steps": 20}
    assert RemotePipeline(None, info).default_steps == 20
    assert RemotePipeline(None, {"spectrogram_params": SpectrogramParams()}).default_steps == 50


def test_mini_recipe_export_recommends_20_steps(tmp_path):
    """The recipe's fp16 export writes the defaults, also from a model trained without them."""
    from riffgen.mini.recipe import export_fp16
    from riffgen.models.registry import resolve_mini

    trained = tmp_path / "trained"
    shutil.copytree(resolve_mini(), trained)
    folder.write_model_defaults(trained, {})
    export_fp16(trained, tmp_path / "out")
    assert folder.read_model_defaults(tmp_path / "out") == {"steps": 20}
    assert folder.read_spectrogram_params(tmp_path / "out") == folder.read_spectrogram_params(
        trained
    )
