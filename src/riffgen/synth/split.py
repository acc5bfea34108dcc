"""Held-out prompts: paraphrase templates and lead (instrument, style) pairs kept out of training.

A model trained on the ``train`` subset never sees the held-out templates' wording nor the
held-out combinations (every held-out family still leads other styles in training), so
evaluating on ``heldout_template`` / ``heldout_combo`` measures generalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from riffgen.synth.captions import TEMPLATES
from riffgen.synth.instruments import FAMILIES, lead_combinations

SUBSETS = ("train", "seen", "heldout_template", "heldout_combo")


@dataclass(frozen=True)
class Holdout:
    """Which template ids and (family, style) lead pairs are held out of training."""

    templates: frozenset[int] = field(default_factory=lambda: frozenset({4, 9}))
    combos: frozenset[tuple[str, str]] = field(
        default_factory=lambda: frozenset(
            {
                ("violin", "arpeggio"),
                ("saxophone", "riff"),
                ("piano", "arpeggio"),
                ("organ", "melody"),
                ("electric_guitar", "riff"),
                ("brass", "chords"),
            }
        )
    )

    def __post_init__(self) -> None:
        bad = [t for t in self.templates if not 0 <= t < len(TEMPLATES)]
        if bad or len(self.templates) >= len(TEMPLATES):
            raise ValueError(
                f"held-out templates must be a proper subset of 0..{len(TEMPLATES) - 1}"
            )
        known = set(lead_combinations())
        unknown = sorted(set(self.combos) - known)
        if unknown:
            raise ValueError(f"unknown (instrument, style) combinations: {unknown}")
        for fam in {f for f, _ in self.combos}:
            if all((fam, s) in self.combos for s in FAMILIES[fam].styles):
                raise ValueError(f"holding out every style of {fam!r} leaves it unseen in training")

    def train_templates(self) -> list[int]:
        return [t for t in range(len(TEMPLATES)) if t not in self.templates]

    def allows(self, subset: str) -> tuple[list[int], object]:
        """(template ids, combo filter) a clip of ``subset`` may draw from."""
        if subset in ("train", "seen"):
            return self.train_templates(), lambda c: c not in self.combos
        if subset == "heldout_template":
            return sorted(self.templates), lambda c: c not in self.combos
        if subset == "heldout_combo":
            return self.train_templates(), lambda c: c in self.combos
        raise ValueError(f"unknown subset {subset!r}; known: {', '.join(SUBSETS)}")


DEFAULT_HOLDOUT = Holdout()
NO_HOLDOUT = Holdout(templates=frozenset(), combos=frozenset())


def subset_of(label: dict, template: int, holdout: Holdout = DEFAULT_HOLDOUT) -> str:
    """Which held-out subset a clip (its label and template id) falls in, or ``"train"``."""
    if (label["lead"], label["style"]) in holdout.combos:
        return "heldout_combo"
    if template in holdout.templates:
        return "heldout_template"
    return "train"
