"""The decoder in a batch: --decoder for every job, a job's own "decoder" field, the sidecar."""

from __future__ import annotations

import json

import pytest

from riffgen.batch.jobs import parse_line
from riffgen.batch.run import RunSettings, is_done, run_batch
from riffgen.diffusion.fake import FakePipeline
from riffgen.errors import RiffgenError

from ._helpers import write_jobs

SEEN: list[str | None] = []


class DecoderFake(FakePipeline):
    def _render(self, prompt, seed, width, params):
        SEEN.append(getattr(self, "decoder", None))
        return super()._render(prompt, seed, width, params)

    def interpolate(self, *args, **kwargs):
        SEEN.append(getattr(self, "decoder", None))
        return super().interpolate(*args, **kwargs)


def test_batch_wide_and_per_job_decoders(tmp_path):
    SEEN.clear()
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": "a", "prompt": "x", "steps": 1},
        {"id": "b", "prompt": "x", "steps": 1, "decoder": "original"},
        {"id": "c", "mode": "jam", "prompts": ["x"], "duration": 6, "steps": 1,
         "decoder": "griffin-lim"},
    )  # fmt: skip
    settings = RunSettings(model="fake", loader=DecoderFake, decoder="vocoder")
    report = run_batch(jobs, tmp_path / "out", settings, quiet=True)
    assert report.exit_code == 0, report.summary()
    assert SEEN[0] == "vocoder" and SEEN[1] == "original" and set(SEEN[2:]) == {"griffin-lim"}
    a = json.loads((tmp_path / "out" / "a.json").read_text())
    b = json.loads((tmp_path / "out" / "b.json").read_text())
    assert a["model"]["decoder"] == "vocoder" and "decoder" not in a["job"]
    assert b["job"]["decoder"] == "original"
    # Another batch-wide decoder makes the jobs again (it is in the model record).
    other = RunSettings(model="fake", loader=DecoderFake, decoder="griffin-lim")
    job_a = parse_line(json.dumps({"id": "a", "prompt": "x", "steps": 1}), 1, tmp_path)
    assert is_done(job_a, tmp_path / "out", settings) and not is_done(
        job_a, tmp_path / "out", other
    )


def test_bad_decoders_are_refused(tmp_path):
    with pytest.raises(ValueError, match="decoder"):
        parse_line(json.dumps({"prompt": "x", "decoder": "wavenet"}), 1, tmp_path)
    with pytest.raises(RiffgenError, match="unknown decoder"):
        RunSettings(model="fake", decoder="wavenet")
