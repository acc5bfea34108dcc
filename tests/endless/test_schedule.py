"""The clip schedule follows the original web app's rules."""

from __future__ import annotations

import threading

import pytest

from riffgen.endless.schedule import JamPrompt, JamSchedule, parse_prompt
from riffgen.errors import RiffgenError


def specs(schedule: JamSchedule, n: int):
    return [schedule.next_spec() for _ in range(n)]


def test_same_prompt_walks_seed_to_seed_plus_one():
    s = JamSchedule(["lofi"], clip_seconds=5.0, seed=42)
    out = specs(s, 9)
    assert [c.alpha for c in out] == [0.25, 0.5, 0.75, 1.0, 0.25, 0.5, 0.75, 1.0, 0.25]
    assert [(c.start.seed, c.end.seed) for c in out[:4]] == [(42, 43)] * 4
    assert [(c.start.seed, c.end.seed) for c in out[4:8]] == [(43, 44)] * 4
    assert all(c.start.prompt == c.end.prompt == "lofi" and not c.transition for c in out)
    assert [c.index for c in out] == list(range(9))


def test_alpha_one_equals_next_alpha_zero():
    """The end point of a cycle is the start point of the next: clips flow."""
    s = JamSchedule(["a", "b"], clip_seconds=5.0, seed=0)
    out = specs(s, 16)
    for prev, nxt in zip(out[3::4], out[4::4], strict=False):
        assert prev.alpha == 1.0
        assert prev.end == nxt.start


def test_transition_at_fixed_seed_then_new_prompt_walks():
    s = JamSchedule(["a", JamPrompt("b")], clip_seconds=5.0, seed=7)
    out = specs(s, 12)
    # first cycle: a, 7 -> 8
    assert all(
        (c.start.prompt, c.end.prompt, c.start.seed, c.end.seed) == ("a", "a", 7, 8)
        for c in out[:4]
    )
    # transition: a -> b, both at the advanced seed 8
    trans = out[4:8]
    assert all(c.transition for c in trans)
    assert all(
        (c.start.prompt, c.end.prompt, c.start.seed, c.end.seed) == ("a", "b", 8, 8) for c in trans
    )
    assert [c.alpha for c in trans] == [0.25, 0.5, 0.75, 1.0]
    # after the transition the seed does not advance; b walks 8 -> 9
    assert all(
        (c.start.prompt, c.end.prompt, c.start.seed, c.end.seed) == ("b", "b", 8, 9)
        for c in out[8:12]
    )
    assert [c.prompt_index for c in out] == [0] * 4 + [1] * 8


def test_durations_round_to_cycles():
    # clip 5 s -> cycle 20 s. "a" for 40 s: two cycles, then the transition (counted to b).
    s = JamSchedule([JamPrompt("a", 40), JamPrompt("b", 40), "c"], clip_seconds=5.0)
    out = specs(s, 32)
    kinds = [("T" if c.transition else "S") + c.end.prompt for c in out[::4]]
    assert kinds == ["Sa", "Sa", "Tb", "Sb", "Tc", "Sc", "Sc", "Sc"]


def test_queue_and_set_prompt_while_running():
    s = JamSchedule(["a"], clip_seconds=5.0)
    specs(s, 2)
    s.queue_prompt("b")
    out = specs(s, 6)
    assert not out[1].transition and out[2].transition and out[2].end.prompt == "b"
    s2 = JamSchedule([JamPrompt("a", 1000), "b", "c"], clip_seconds=5.0)
    specs(s2, 3)
    s2.set_prompt("z")  # drops b and c, cuts a short
    out = specs(s2, 5)
    assert out[1].transition and out[1].end.prompt == "z"
    assert s2.pending == []


def test_queue_from_other_thread():
    s = JamSchedule(["a"], clip_seconds=1.0)
    t = threading.Thread(target=lambda: [s.queue_prompt(f"p{i}") for i in range(100)])
    t.start()
    specs(s, 50)
    t.join()
    consumed = 100 - len(s.pending)
    assert 0 <= consumed <= 50 // 4  # at most one prompt starts per cycle


def test_defaults_and_overrides_reach_endpoints():
    s = JamSchedule(
        [JamPrompt("a", denoising=0.5, guidance=3.0, negative_prompt="noise")],
        clip_seconds=5.0,
        denoising=0.7,
        guidance=9.0,
        negative_prompt="vocals",
    )
    c = s.next_spec()
    assert (c.start.denoising, c.start.guidance, c.start.negative_prompt) == (0.5, 3.0, "noise")
    s = JamSchedule(["a"], clip_seconds=5.0, denoising=0.7, guidance=9.0, negative_prompt="vocals")
    c = s.next_spec()
    assert (c.end.denoising, c.end.guidance, c.end.negative_prompt) == (0.7, 9.0, "vocals")


@pytest.mark.parametrize(
    ("text", "prompt", "duration"),
    [
        ("jazz", "jazz", None),
        ("jazz:20", "jazz", 20.0),
        ("jazz: smooth", "jazz: smooth", None),
        ("a:b:7.5", "a:b", 7.5),
        ("  lofi  ", "lofi", None),
    ],
)
def test_parse_prompt(text, prompt, duration):
    p = parse_prompt(text)
    assert (p.prompt, p.duration_s) == (prompt, duration)


@pytest.mark.parametrize("text", ["", "   ", "a:0", "a:-3", "a:inf"])
def test_parse_prompt_rejects(text):
    with pytest.raises(RiffgenError):
        parse_prompt(text)


def test_alpha_step_other_than_quarter():
    s = JamSchedule(["a"], clip_seconds=1.0, alpha_step=0.5)
    assert [c.alpha for c in specs(s, 4)] == [0.5, 1.0, 0.5, 1.0]
    with pytest.raises(RiffgenError):
        JamSchedule(["a"], clip_seconds=1.0, alpha_step=0)
