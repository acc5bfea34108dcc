"""Engine and stitching: seams without clicks, exact geometry, flat memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from riffgen.endless import JamConfig, JamEngine, JamPrompt
from riffgen.endless.metrics import seam_report
from riffgen.endless.stitch import Stitcher, crossfade_curves, loop_period
from riffgen.endless.testing import FakeClipMaker


def test_crossfade_curves_keep_power():
    out, inn = crossfade_curves(1000)
    assert np.allclose(out**2 + inn**2, 1.0, atol=1e-6)
    out, inn = crossfade_curves(1000, correlation=1.0)
    assert np.allclose(out + inn, 1.0, atol=1e-6)
    assert out[0] > 0.99 and inn[-1] > 0.99


def test_loop_period_whole_pattern_loops():
    n, xf, sr = 225351, 1764, 44100
    assert loop_period(n, xf, sample_rate=sr) == n - xf
    # 120 BPM, 2-beat loops of 1 s: five fit into 5.07 s
    assert loop_period(n, xf, sample_rate=sr, bpm=120, loop_beats=2) == 5 * sr
    # 80 BPM, 2-beat loops of 1.5 s: three fit
    assert loop_period(n, xf, sample_rate=sr, bpm=80, loop_beats=2) == int(4.5 * sr)


def test_stitcher_segments_tile_the_stream():
    rng = np.random.default_rng(0)
    st = Stitcher(period=1000, crossfade=100)
    clips = [rng.standard_normal((1, 1200)).astype(np.float32) for _ in range(5)]
    segs = [st.push(c) for c in clips]
    assert all(s.shape == (1, 1000) for s in segs)
    # away from the crossfades each segment is its clip, untouched
    assert np.array_equal(segs[0], clips[0][:, :1000])
    assert np.array_equal(segs[2][:, 100:], clips[2][:, 100:1000])
    tail = st.finish()
    assert tail.shape == (1, 100) and abs(tail[0, -1]) < 1e-3
    assert st.samples_out == 5100


def test_engine_clip_objects(beat_seed):
    maker = FakeClipMaker()
    eng = JamEngine(maker, ["a", "b"], seed_image=beat_seed, config=JamConfig(seed=3))
    clips = list(eng.clips(max_clips=9))
    assert [c.index for c in clips] == list(range(9))
    assert eng.period == 5 * 44100  # beat_120: 2-beat loops of 1 s
    assert all(c.audio.shape == (1, eng.period) for c in clips)
    assert [c.stream_start for c in clips] == [i * eng.period for i in range(9)]
    assert clips[4].transition and clips[4].start.prompt == "a" and clips[4].end.prompt == "b"
    assert clips[0].start.seed == 3 and clips[0].end.seed == 4
    d = clips[5].to_dict()
    assert d["alpha"] == 0.5 and d["end"]["prompt"] == "b" and d["seed_image"] == "beat_120"
    # the clip maker got the seed image and the schedule's endpoints
    assert maker.calls[4][:2] == (clips[4].start, clips[4].end)


def test_engine_stop_and_queue(beat_seed):
    eng = JamEngine(FakeClipMaker(), ["a"], seed_image=beat_seed)
    seen = []
    for clip in eng.clips():
        seen.append(clip.end.prompt)
        if clip.index == 1:
            eng.queue_prompt(JamPrompt("b"))
        if clip.index == 9:
            eng.stop()
    assert len(seen) == 10
    assert seen[4:8] == ["b"] * 4


def test_seams_no_worse_than_inside(beat_seed):
    eng = JamEngine(FakeClipMaker(), ["a", "b", "c"], seed_image=beat_seed)
    clips = list(eng.clips(max_clips=12))
    audio = np.concatenate([c.audio for c in clips] + [eng.finish()], axis=1)
    seams = [c.stream_start for c in clips[1:]]
    report = seam_report(audio, seams)
    assert report.jump_ratio <= 1.0, report
    assert report.flux_ratio <= 1.0, report


def test_seams_without_crossfade_click(beat_seed):
    """The measurement itself catches a hard cut (so the test above means something).

    Without level matching: the fake's beats fade in from silence at every clip start, so a
    cut between clips at one level has no edge to find (test_jam_seams measures levels)."""
    config = JamConfig(crossfade_ms=0, match_levels=False)
    eng = JamEngine(FakeClipMaker(), ["a", "b"], seed_image=beat_seed, config=config)
    clips = list(eng.clips(max_clips=8))
    audio = np.concatenate([c.audio for c in clips], axis=1)
    report = seam_report(audio, [c.stream_start for c in clips[1:]])
    assert report.jump_ratio > 1.0


def test_memory_flat_over_many_clips(beat_seed):
    eng = JamEngine(FakeClipMaker(), ["a", "b", "c"], seed_image=beat_seed)
    gen = eng.clips(max_clips=40)
    for _ in range(5):
        next(gen)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    peaks = []
    for i, clip in enumerate(gen):
        del clip
        if i % 5 == 4:
            peaks.append(tracemalloc.get_traced_memory()[0] - base)
    tracemalloc.stop()
    # No growth: the engine keeps one crossfade tail, not the clips.
    assert max(peaks) - min(peaks) < 200_000, peaks


@pytest.mark.parametrize("channels", [1, 2])
def test_engine_channels(beat_seed, channels):
    eng = JamEngine(FakeClipMaker(channels=channels), ["a"], seed_image=beat_seed)
    clip = next(eng.clips())
    assert clip.audio.shape[0] == channels
