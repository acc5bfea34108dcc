"""``riffgen evaluate``: prompt adherence of a model (instrument family and tempo)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from riffgen.cli import _shared
from riffgen.cli._shared import finite_float
from riffgen.errors import RiffgenError

if TYPE_CHECKING:
    from riffgen.evaluation.adherence import AdherenceConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    # Defaults (None here) come from AdherenceConfig when the command runs: importing the
    # evaluation package to build the parser would slow every `riffgen --help`.
    p = subparsers.add_parser(
        "evaluate",
        help="measure prompt adherence (instrument family, tempo) on held-out prompts",
        description=(
            "Generate one clip for each of N prompts per prompt set (seen: training wording, "
            "new seeds; heldout_template: paraphrases never used in training; heldout_combo: "
            "instrument/style pairs never used in training; heldout_words: instrument names "
            "reworded as synonyms, slang and model names no caption uses; blind_words: the same "
            "with names written blind to the instrument lexicon), render the same arrangements "
            "with FluidSynth, and classify both with the instrument-family classifier (trained "
            "on renders only). Prints top-1 accuracy on generated clips beside real renders "
            "and chance, and the fraction of rhythmic prompts whose tempo is within 10%%."
        ),
    )
    p.add_argument("-n", "--n", type=int, default=None, help="prompts per set (20)")
    p.add_argument(
        "--sets",
        nargs="+",
        default=None,
        metavar="SET",
        help="prompt sets (default: seen heldout_template heldout_combo heldout_words blind_words)",
    )
    p.add_argument("--steps", type=int, default=None, help="denoising steps (20)")
    p.add_argument("--guidance", type=finite_float, default=None, help="CFG scale (7)")
    p.add_argument("--seed", type=int, default=None, help="first generation seed (0)")
    p.add_argument(
        "--classifier",
        default=None,
        metavar="PATH",
        help="classifier weights (default: $RIFFGEN_CLASSIFIER or the shipped ones)",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="also write the full report")
    p.add_argument(
        "--no-lexicon",
        dest="lexicon",
        action="store_false",
        help="give the model every prompt as written (no family words added after instrument "
        "names it never saw in training: riffgen.models.lexicon)",
    )
    _shared.add_model_flags(p, default_model="mini")
    _shared.add_verbosity(p)
    p.set_defaults(func=_evaluate)


def _config(args: argparse.Namespace) -> AdherenceConfig:
    """The command line over AdherenceConfig's defaults, checked."""
    from riffgen.evaluation.adherence import AdherenceConfig

    d = AdherenceConfig()
    config = AdherenceConfig(
        n_per_set=d.n_per_set if args.n is None else args.n,
        prompt_sets=d.prompt_sets if args.sets is None else tuple(dict.fromkeys(args.sets)),
        steps=d.steps if args.steps is None else args.steps,
        guidance=d.guidance if args.guidance is None else args.guidance,
        seed=d.seed if args.seed is None else args.seed,
    )
    config.check()
    _shared.check_steps_guidance_seed(
        argparse.Namespace(steps=config.steps, guidance=config.guidance, seed=config.seed)
    )
    return config


def _evaluate(args: argparse.Namespace) -> int:
    from riffgen.evaluation.adherence import evaluate_adherence
    from riffgen.evaluation.classifier import InstrumentClassifier
    from riffgen.evaluation.report import default_classifier
    from riffgen.synth import fluidsynth_available

    config = _config(args)
    _shared.check_model_flags(args)
    classifier = (
        InstrumentClassifier.load(args.classifier) if args.classifier else default_classifier()
    )
    if not fluidsynth_available():
        raise RiffgenError("the reference renders need fluidsynth and a GM soundfont: make setup")
    pipe = _shared.load_pipeline(args)
    if not args.lexicon:
        pipe.lexicon = False
    lexicon = bool(getattr(pipe, "lexicon", False))  # the fake pipeline has none

    def progress(done: int, total: int, prompt: str) -> None:
        print(f"[{done}/{total}] {prompt}", file=sys.stderr, flush=True)

    result = evaluate_adherence(pipe, classifier, config, progress=None if args.quiet else progress)
    total = sum(r.n for k, r in result.generated.items() if k != "all")
    print(
        f"model {args.model}: {total} held-out prompts, {config.steps} {args.scheduler} steps, "
        f"guidance {config.guidance}, lexicon {'on' if lexicon else 'off'}; "
        f"generation {result.seconds_generating / total:.2f} s/clip"
    )
    print(result.table())
    overall = result.generated.get("all") or next(iter(result.generated.values()))
    print(f"generated: {overall.summary()}")
    if args.json:
        from riffgen.files import atomic_outputs

        config_json = {
            **config.__dict__,
            "scheduler": args.scheduler,
            "lexicon": lexicon,
        }
        payload = {"model": args.model, "config": config_json, **result.to_json()}
        with atomic_outputs([args.json]) as (tmp,):
            tmp.write_text(json.dumps(payload, indent=2))
        print(f"report: {args.json}")
    return 0
