"""Clips (MIDI + audio + caption + label) and imagefolder datasets of spectrogram images.

Layout written by :func:`write_dataset` (loadable with ``datasets.load_dataset("imagefolder",
data_dir=OUT)``)::

    OUT/train/metadata.jsonl, OUT/train/000000.png, ...
    OUT/test/metadata.jsonl,  OUT/test/000000.png, ...     # subsets: seen, heldout_*
    OUT/info.json                                           # seed, counts, holdout, timing

Each metadata line: ``file_name``, ``text`` (the caption), ``subset``, ``template``,
``seed`` and ``labels`` (families lead first, style, bpm, tempo, key, mode, groove, parts).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from riffgen.audio import SpectrogramParams, audio_to_image, save_audio
from riffgen.errors import RiffgenError
from riffgen.files import atomic_path
from riffgen.synth.captions import PROGRAM_NAME_RATE, caption, with_program_names
from riffgen.synth.compose import CLIP_SECONDS, ClipSpec, compose, sample_spec
from riffgen.synth.render import normalize_level, render_midi
from riffgen.synth.split import DEFAULT_HOLDOUT, SUBSETS, Holdout

SAMPLE_RATE = 44100
_SUBSET_CODES = {name: i for i, name in enumerate(SUBSETS)}


@dataclass
class Clip:
    """One generated clip. ``audio`` is mono float32 ``[n]`` at ``sample_rate`` Hz (or None)."""

    seed: int
    subset: str
    spec: ClipSpec
    template: int
    caption: str
    midi: bytes
    audio: np.ndarray | None
    sample_rate: int = SAMPLE_RATE

    @property
    def label(self) -> dict:
        return self.spec.to_label()


def clip_seed(dataset_seed: int, subset: str, index: int) -> int:
    """The seed of clip ``index`` of ``subset`` in a dataset made with ``dataset_seed``.

    Independent of how many clips or workers there are, so datasets grow reproducibly.
    """
    ss = np.random.SeedSequence([int(dataset_seed), _SUBSET_CODES[subset], int(index)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def clip_num_samples(sample_rate: int = SAMPLE_RATE, seconds: float = CLIP_SECONDS) -> int:
    return int(round(seconds * sample_rate))


def generate_clip(
    seed: int,
    *,
    subset: str = "train",
    holdout: Holdout = DEFAULT_HOLDOUT,
    render: bool = True,
    sample_rate: int = SAMPLE_RATE,
    seconds: float = CLIP_SECONDS,
    spec: ClipSpec | None = None,
    template: int | None = None,
) -> Clip:
    """Compose (and render, unless ``render=False``) one clip from ``seed``.

    ``subset`` restricts templates and lead combinations (see :class:`Holdout`). ``spec``
    and ``template`` override the drawn arrangement / paraphrase (for tests and demos).
    Same arguments -> identical MIDI bytes and identical audio.
    """
    templates, allow = holdout.allows(subset)
    if not templates:
        raise RiffgenError(f"the holdout leaves no caption template for subset {subset!r}")
    spec_ss, music_ss, caption_ss, names_ss = np.random.SeedSequence(int(seed)).spawn(4)
    if spec is None:
        spec = sample_spec(np.random.default_rng(spec_ss), allow=allow)  # type: ignore[arg-type]
    caption_rng = np.random.default_rng(caption_ss)
    if template is None:
        template = templates[int(caption_rng.integers(len(templates)))]
    text = caption(spec, caption_rng, template=template)
    names_rng = np.random.default_rng(names_ss)
    if subset == "train" and names_rng.random() < PROGRAM_NAME_RATE:
        text = with_program_names(text, spec, names_rng)  # test prompts keep the family words
    midi = compose(spec, np.random.default_rng(music_ss), seconds=seconds)
    audio = None
    if render:
        n = int(round(seconds * sample_rate))
        stereo = render_midi(midi, sample_rate=sample_rate, num_samples=n)
        audio = normalize_level(stereo.mean(axis=0))
    return Clip(int(seed), subset, spec, int(template), text, midi, audio, sample_rate)


def prompt_set(
    subset: str,
    *,
    n: int,
    seed: int = 0,
    holdout: Holdout = DEFAULT_HOLDOUT,
    render: bool = False,
) -> list[Clip]:
    """The ``n`` clips of ``subset`` that :func:`write_dataset` with ``seed`` would make.

    Without ``render`` only captions, labels and MIDI are produced (fast): the prompts to
    give a model under evaluation. With ``render`` each clip also carries its real
    FluidSynth render, the reference the model's output is compared with.
    """
    return [
        generate_clip(clip_seed(seed, subset, i), subset=subset, holdout=holdout, render=render)
        for i in range(n)
    ]


def _write_clip(job: tuple) -> dict:
    """Worker: generate, render and write one clip; returns its metadata row."""
    split_dir, index, seed, subset, holdout, save_audio_files, save_midi, params_fields = job
    clip = generate_clip(seed, subset=subset, holdout=holdout)
    assert clip.audio is not None
    stem = f"{index:06d}"
    params = SpectrogramParams(**params_fields) if params_fields else SpectrogramParams()
    image = audio_to_image(clip.audio, clip.sample_rate, params)
    with atomic_path(Path(split_dir) / f"{stem}.png") as tmp:
        image.save(tmp, format="PNG", exif=image.getexif())
    row = {
        "file_name": f"{stem}.png",
        "text": clip.caption,
        "subset": subset,
        "template": clip.template,
        "seed": clip.seed,
        "labels": clip.label,
    }
    if params_fields:  # the trainer writes these into the model (riffgen.json)
        row["spectrogram"] = params_fields
    if save_audio_files:
        save_audio(Path(split_dir) / f"{stem}.flac", clip.audio, clip.sample_rate)
        row["audio_file"] = f"{stem}.flac"
    if save_midi:
        with atomic_path(Path(split_dir) / f"{stem}.mid") as tmp:
            tmp.write_bytes(clip.midi)
        row["midi_file"] = f"{stem}.mid"
    peak = float(np.abs(clip.audio).max())
    rms = float(np.sqrt(np.mean(np.square(clip.audio))))
    row["level"] = {
        "rms_dbfs": round(20 * np.log10(max(rms, 1e-9)), 2),
        "peak_dbfs": round(20 * np.log10(max(peak, 1e-9)), 2),
    }
    return row


def write_dataset(
    out: str | os.PathLike[str],
    *,
    n: int,
    seed: int = 0,
    n_test: int | None = None,
    holdout: Holdout = DEFAULT_HOLDOUT,
    workers: int = 1,
    save_audio_files: bool = False,
    save_midi: bool = False,
    params: SpectrogramParams | None = None,
    progress: bool = False,
) -> dict:
    """Generate ``n`` training clips and ``n_test`` test clips into ``out`` (imagefolder).

    Images use ``params`` (default: riffusion's); non-default ``params`` are recorded in each
    metadata row under ``"spectrogram"``.

    The test split holds three equal subsets: ``seen`` (training templates and
    combinations, new seeds), ``heldout_template`` and ``heldout_combo``. ``n_test``
    defaults to ``n // 10`` (a multiple of 3). ``workers`` processes render in parallel.
    Returns the summary also written to ``out/info.json``.
    """
    if n < 0:
        raise RiffgenError(f"--n must be >= 0, got {n}")
    if workers < 1:
        raise RiffgenError(f"workers must be >= 1, got {workers}")
    n_test = (n // 10) if n_test is None else n_test
    per_subset = n_test // 3
    out = Path(out)
    fields = (
        None if params is None else {k: getattr(params, k) for k in params.__dataclass_fields__}
    )
    jobs: list[tuple] = []
    for i in range(n):
        jobs.append(
            (
                str(out / "train"),
                i,
                clip_seed(seed, "train", i),
                "train",
                holdout,
                save_audio_files,
                save_midi,
                fields,
            )
        )
    t = 0
    for subset in ("seen", "heldout_template", "heldout_combo"):
        for i in range(per_subset):
            jobs.append(
                (
                    str(out / "test"),
                    t,
                    clip_seed(seed, subset, i),
                    subset,
                    holdout,
                    save_audio_files,
                    save_midi,
                    fields,
                )
            )
            t += 1
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows: dict[str, list[dict]] = {"train": [], "test": []}
    if workers == 1:
        results = map(_write_clip, jobs)
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(_write_clip, jobs, chunksize=4)
    try:
        for done, (job, row) in enumerate(zip(jobs, results, strict=True), 1):
            rows["train" if job[3] == "train" else "test"].append(row)
            if progress and (done % 50 == 0 or done == len(jobs)):
                rate = done / (time.perf_counter() - start)
                print(f"data: {done}/{len(jobs)} clips, {rate:.2f} clips/s", flush=True)
    finally:
        if workers > 1:
            pool.shutdown()
    elapsed = time.perf_counter() - start
    for split, split_rows in rows.items():
        with atomic_path(out / split / "metadata.jsonl") as tmp, open(tmp, "w") as f:
            for row in split_rows:
                f.write(json.dumps(row, sort_keys=True) + "\n")
    info = {
        "seed": seed,
        "train": len(rows["train"]),
        "test": len(rows["test"]),
        "holdout": {
            "templates": sorted(holdout.templates),
            "combos": sorted(list(c) for c in holdout.combos),
        },
        "spectrogram": fields,
        "seconds": round(elapsed, 2),
        "clips_per_second": round(len(jobs) / elapsed, 3) if elapsed > 0 else None,
        "workers": workers,
    }
    with atomic_path(out / "info.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    return info


def read_metadata(split_dir: str | os.PathLike[str]) -> list[dict]:
    """Rows of ``split_dir/metadata.jsonl``."""
    path = Path(split_dir) / "metadata.jsonl"
    if not path.is_file():
        raise RiffgenError(f"no metadata.jsonl in {split_dir}")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
