"""The clip schedule of the original Riffusion web app, as a small pure state machine.

Rules (riffusion-app ``pages/index.tsx`` / ``ModelInference.tsx``), restated:

- alpha advances by ``alpha_step`` (0.25) per clip: 0.25, 0.5, 0.75, 1.0, then wraps to 0.25.
  Alpha 0 is never rendered: alpha 1 of one cycle *is* alpha 0 of the next, so clips flow.
- While the prompt stays the same, a cycle walks from seed ``s`` to ``s + 1`` with that prompt;
  at the wrap the seed advances by one.
- A new prompt only starts at a wrap. It gets a transition cycle at a fixed seed: start = the
  old prompt, end = the new prompt, both with the (just advanced) seed. After the transition the
  seed does not advance; the new prompt then walks ``s -> s + 1`` as before.
- If another prompt is already waiting when a transition ends, the original transitions again
  at once. riffgen does so only when the new prompt's duration is already used up; a prompt
  without a duration gets one cycle of its own first (otherwise it would only be heard mixed).

riffgen adds durations: a prompt holds until its ``duration_s`` is (to the nearest cycle) used
up and another prompt is waiting; ``None`` means "until another prompt is queued". The
transition into a prompt counts towards that prompt's time.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from riffgen.diffusion.types import PromptInput
from riffgen.errors import RiffgenError

_EPS = 1e-6


@dataclass(frozen=True)
class JamPrompt:
    """One prompt of a jam and how long it should sound (seconds; ``None``: until replaced).

    ``denoising``/``guidance``/``negative_prompt`` override the jam's defaults when set.
    """

    prompt: str
    duration_s: float | None = None
    negative_prompt: str | None = None
    denoising: float | None = None
    guidance: float | None = None

    def __post_init__(self) -> None:
        if self.duration_s is not None and not self.duration_s > 0:
            raise RiffgenError(f"prompt duration must be > 0 s, got {self.duration_s}")


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides one clip: the two endpoints and where between them it sits."""

    index: int
    start: PromptInput
    end: PromptInput
    alpha: float
    transition: bool
    prompt_index: int  # which prompt (in order of appearance) this clip belongs to


def parse_prompt(text: str) -> JamPrompt:
    """``"prompt"`` or ``"prompt:SECONDS"`` -> :class:`JamPrompt`.

    Only a trailing ``:<number>`` is a duration, so prompts with colons still work
    (``"jazz: smooth"`` is a prompt; ``"jazz: smooth:20"`` lasts 20 s).
    """
    head, sep, tail = text.rpartition(":")
    if sep and head.strip():
        try:
            seconds = float(tail)
        except ValueError:
            seconds = None
        if seconds is not None:
            if not (math.isfinite(seconds) and seconds > 0):
                raise RiffgenError(
                    f"prompt duration must be a positive number of seconds: {text!r}"
                )
            return JamPrompt(head.strip(), duration_s=seconds)
    if not text.strip():
        raise RiffgenError("prompts must not be empty")
    return JamPrompt(text.strip())


def as_jam_prompt(value: JamPrompt | PromptInput | str) -> JamPrompt:
    if isinstance(value, JamPrompt):
        return value
    if isinstance(value, PromptInput):
        return JamPrompt(
            value.prompt,
            negative_prompt=value.negative_prompt,
            denoising=value.denoising,
            guidance=value.guidance,
        )
    if isinstance(value, str):
        return parse_prompt(value)
    raise RiffgenError(f"not a prompt: {value!r}")


class JamSchedule:
    """Yields :class:`ClipSpec` for an endless jam; prompts can be queued from other threads.

    ``clip_seconds`` is how much new audio one clip adds to the stream (used for durations).
    """

    def __init__(
        self,
        prompts: Iterable[JamPrompt | PromptInput | str],
        *,
        clip_seconds: float,
        seed: int = 0,
        alpha_step: float = 0.25,
        denoising: float = 0.75,
        guidance: float = 7.0,
        negative_prompt: str | None = None,
    ) -> None:
        items = [as_jam_prompt(p) for p in prompts]
        if not items:
            raise RiffgenError("a jam needs at least one prompt")
        if not 0 < alpha_step <= 1:
            raise RiffgenError(f"alpha step must be in (0, 1], got {alpha_step}")
        if not clip_seconds > 0:
            raise RiffgenError(f"clip length must be > 0 s, got {clip_seconds}")
        self.clip_seconds = float(clip_seconds)
        self.alpha_step = float(alpha_step)
        self.defaults = {
            "denoising": denoising,
            "guidance": guidance,
            "negative_prompt": negative_prompt,
        }
        self._lock = threading.Lock()
        self._queue: deque[JamPrompt] = deque(items[1:])
        self._current = items[0]
        self._target: JamPrompt | None = None  # the incoming prompt during a transition
        self._prompt_index = 0
        self._seed = int(seed)
        self._alpha = 0.0
        self._elapsed = 0.0  # seconds the current prompt has sounded (transition into it included)
        self._index = 0

    # ----------------------------------------------------------- changing prompts while running
    def queue_prompt(self, prompt: JamPrompt | PromptInput | str) -> None:
        """Play ``prompt`` after the prompts already waiting."""
        with self._lock:
            self._queue.append(as_jam_prompt(prompt))

    def set_prompt(self, prompt: JamPrompt | PromptInput | str) -> None:
        """Drop the waiting prompts and move to ``prompt`` at the next cycle boundary.

        The current prompt's remaining duration is cut short, as in the original app where
        typing a prompt starts the transition at the next wrap.
        """
        item = as_jam_prompt(prompt)
        with self._lock:
            self._queue.clear()
            self._queue.append(item)
            self._current = replace(self._current, duration_s=None)

    @property
    def pending(self) -> list[JamPrompt]:
        with self._lock:
            return list(self._queue)

    @property
    def current(self) -> JamPrompt:
        return self._current

    @property
    def seed(self) -> int:
        return self._seed

    # ------------------------------------------------------------------------------ the rules
    def _cycle_seconds(self) -> float:
        return self.clip_seconds * round(1.0 / self.alpha_step)

    def _time_is_up(self) -> bool:
        if not self._queue:
            return False
        duration = self._current.duration_s
        # Transitions only happen at a wrap, so durations round to the nearest cycle.
        return duration is None or self._elapsed + self._cycle_seconds() / 2 >= duration

    def _wrap(self) -> None:
        """End of a cycle (alpha reached 1): advance the seed or enter/leave a transition."""
        with self._lock:
            if self._target is None:
                self._seed += 1
                if self._time_is_up():
                    self._target = self._queue.popleft()
                    self._prompt_index += 1
                    self._elapsed = 0.0
            else:
                self._current, self._target = self._target, None
                if self._current.duration_s is not None and self._time_is_up():
                    # The original: a prompt already waiting after a transition transitions again.
                    self._target = self._queue.popleft()
                    self._prompt_index += 1
                    self._elapsed = 0.0

    def _endpoint(self, item: JamPrompt, seed: int) -> PromptInput:
        d = self.defaults
        return PromptInput(
            prompt=item.prompt,
            seed=seed,
            negative_prompt=item.negative_prompt
            if item.negative_prompt is not None
            else d["negative_prompt"],
            denoising=item.denoising if item.denoising is not None else d["denoising"],
            guidance=item.guidance if item.guidance is not None else d["guidance"],
        )

    def next_spec(self) -> ClipSpec:
        """The next clip to render."""
        if self._alpha >= 1.0 - _EPS:
            self._wrap()
            self._alpha = 0.0
        self._alpha = min(1.0, self._alpha + self.alpha_step)
        alpha = round(self._alpha, 9)
        if self._target is None:
            start = self._endpoint(self._current, self._seed)
            end = self._endpoint(self._current, self._seed + 1)
        else:
            start = self._endpoint(self._current, self._seed)
            end = self._endpoint(self._target, self._seed)
        spec = ClipSpec(
            index=self._index,
            start=start,
            end=end,
            alpha=alpha,
            transition=self._target is not None,
            prompt_index=self._prompt_index,
        )
        self._index += 1
        self._elapsed += self.clip_seconds
        return spec
