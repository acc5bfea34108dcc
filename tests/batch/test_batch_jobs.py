"""Reading JOBS.jsonl: every bad line is one message naming its line and field; good lines
get their defaults; paths are relative to the JOBS file."""

from __future__ import annotations

import pytest

from riffgen.batch.jobs import GenerateJob, Job, read_jobs

from ._helpers import write_jobs


def _errors(tmp_path, *lines):
    jobs, errors = read_jobs(write_jobs(tmp_path / "jobs.jsonl", *lines))
    return jobs, {e.line: e.message for e in errors}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "invalid JSON: Expecting value at column 1"),
        ("[1, 2]", "a job is a JSON object, got list"),
        ({"mode": "warp", "prompt": "x"}, 'mode: unknown mode "warp"'),
        ({"mode": 3, "prompt": "x"}, "mode: unknown mode 3"),
        ({"steps": 3}, "prompt: Field required"),
        (
            {"prompt": "x", "steps": 5000},
            "steps: Input should be less than or equal to 1000 (got 5000)",
        ),
        ({"prompt": "x", "steps": 0}, "steps: Input should be greater than or equal to 1"),
        ({"prompt": "x", "steps": "20"}, 'steps: Input should be a valid integer (got "20")'),
        ({"prompt": "x", "steps": 2.5}, "steps: Input should be a valid integer"),
        ({"prompt": "x", "seed": True}, "seed: Input should be a valid integer (got true)"),
        ({"prompt": "x", "seed": -1}, "seed: Input should be greater than or equal to 0"),
        ({"prompt": "x", "seed": 2**63}, "seed: Input should be less than or equal to"),
        ('{"prompt": "x", "guidance": NaN}', "guidance: Input should be a finite number"),
        ('{"prompt": "x", "duration": Infinity}', "duration: Input should be a finite number"),
        ({"prompt": "x", "guidance": 101}, "guidance: Input should be less than or equal to 100"),
        ({"prompt": "x", "duration": 61}, "duration: Input should be less than or equal to 60"),
        ({"prompt": "x", "duration": 0}, "duration: Input should be greater than 0"),
        ({"prompt": "x", "width": 60001}, "width: Input should be less than or equal to 60000"),
        ({"prompt": "x", "denoising": 1.5}, "denoising: Input should be less than or equal to 1"),
        ({"prompt": "x", "duration": 2, "width": 256}, "give duration or width, not both"),
        ({"prompt": "x", "stepz": 3}, "stepz: Extra inputs are not permitted (got 3)"),
        (
            {"prompt": "x", "format": "aiff"},
            "format: Input should be 'wav', 'flac', 'ogg' or 'mp3'",
        ),
        ({"prompt": "x", "id": "../up"}, "id: String should match pattern"),
        ({"prompt": "x", "id": ".hidden"}, "id: String should match pattern"),
        ({"prompt": ""}, "prompt: String should have at least 1 character"),
        ({"prompt": "x" * 10_001}, "prompt: String should have at most 10000 characters"),
        ({"mode": "transform", "prompt": "x"}, "give exactly one of input, seed_image"),
        (
            {"mode": "transform", "prompt": "x", "input": "gone.wav"},
            "input: file not found: gone.wav",
        ),
        (
            {"mode": "transform", "prompt": "x", "seed_image": "nope"},
            "seed_image: file not found: nope (and not a seed image name)",
        ),
        ({"mode": "inpaint", "prompt": "x", "seed_image": "og_beat"}, "inpaint needs start/end"),
        (
            {
                "mode": "inpaint",
                "prompt": "x",
                "seed_image": "og_beat",
                "start": 1,
                "mask": "m.png",
            },
            "give either mask or a time/frequency range",
        ),
        (
            {"mode": "interpolate", "prompt_a": "a", "prompt_b": "b", "clips": 0},
            "clips: Input should be greater than or equal to 1",
        ),
        (
            {"mode": "jam", "prompts": [], "duration": 5},
            "prompts: List should have at least 1 item",
        ),
        (
            {"mode": "jam", "prompts": ["a"], "duration": 5, "format": "mp3"},
            "format: Input should be 'wav', 'flac' or 'ogg'",
        ),
        (
            {"mode": "jam", "prompts": ["a"], "duration": 5, "bpm": 10},
            "bpm: Input should be greater than or equal to 20",
        ),
        ({"mode": "jam", "prompts": "a", "duration": 5}, "prompts: Input should be a valid list"),
    ],
)
def test_bad_line_is_one_message_naming_line_and_field(tmp_path, line, message):
    jobs, errors = _errors(tmp_path, {"prompt": "fine"}, line, {"prompt": "also fine"})
    assert [j.line for j in jobs] == [1, 3]  # the good lines around it are kept
    assert list(errors) == [2]
    assert message in errors[2] and "\n" not in errors[2]


def test_several_errors_in_one_line_are_joined(tmp_path):
    _, errors = _errors(tmp_path, {"prompt": "x", "steps": 0, "seed": "a"})
    assert errors[1].count(";") == 1 and "steps:" in errors[1] and "seed:" in errors[1]


def test_defaults_ids_and_blank_lines(tmp_path):
    jobs, errors = _errors(tmp_path, {"prompt": "a"}, "", "   ", {"prompt": "b", "id": "my-clip"})
    assert not errors
    assert [(j.line, j.id, j.mode) for j in jobs] == [
        (1, "1", "generate"),
        (4, "my-clip", "generate"),
    ]
    assert isinstance(jobs[0].spec, GenerateJob)
    record = jobs[0].record()
    # steps: the model's default, filled in by the runner before the job runs or is compared
    assert record["mode"] == "generate" and record["steps"] is None and record["guidance"] == 7.0
    assert record["seed"] == 0 and record["format"] == "wav"
    assert jobs[0].with_default_steps(20).record()["steps"] == 20
    assert jobs[0].with_default_steps(20).with_default_steps(7).record()["steps"] == 20


def test_repeated_id_is_a_bad_line(tmp_path):
    jobs, errors = _errors(
        tmp_path,
        {"prompt": "a", "id": "x"},
        {"prompt": "b", "id": "X"},  # one file with x.wav where names ignore case
        {"prompt": "c"},  # id "3", its line number
        {"prompt": "d", "id": "3"},
    )
    assert [j.id for j in jobs] == ["x", "3"]
    assert errors == {2: "id: 'X' is already line 1's", 4: "id: '3' is already line 3's"}


def test_paths_are_relative_to_the_jobs_file(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "song.wav").write_bytes(b"RIFF")  # read later; only existence here
    jobs_path = tmp_path / "sub" / "jobs.jsonl"
    jobs_path.parent.mkdir()
    write_jobs(jobs_path, {"mode": "transform", "prompt": "x", "input": "../in/song.wav"})
    monkeypatch.chdir("/")
    (job,), errors = read_jobs(jobs_path)
    assert not errors
    assert job.files == {"input": str((tmp_path / "in" / "song.wav").resolve())}
    assert job.record()["input"] == "../in/song.wav"  # the sidecar keeps what was written


def test_seed_image_name_or_file(tmp_path):
    jobs, errors = _errors(
        tmp_path,
        {"prompt": "x", "seed_image": "og_beat"},
        {"mode": "jam", "prompts": ["a"], "duration": 5, "seed_image": "beat"},
    )
    assert not errors and all(j.files == {} for j in jobs)


def test_job_travels_as_json(tmp_path):
    (job,), _ = _errors(
        tmp_path, {"mode": "interpolate", "prompt_a": "a", "prompt_b": "b", "id": "m"}
    )
    again = Job.from_json(job.to_json())
    assert again == job and again.record() == job.record()
