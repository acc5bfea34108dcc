"""``riffgen evaluate``: prompt adherence of a model (instrument family and tempo)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from riffgen.errors import RiffgenError


def register(subparsers: argparse._SubParsersAction) -> None:
    from riffgen.diffusion.schedulers import scheduler_names
    from riffgen.evaluation.adherence import HELD_OUT_SETS, AdherenceConfig

    d = AdherenceConfig()
    p = subparsers.add_parser(
        "evaluate",
        help="measure prompt adherence (instrument family, tempo) on held-out prompts",
        description=(
            "Generate one clip for each of N prompts per prompt set (seen: training wording, "
            "new seeds; heldout_template: paraphrases never used in training; heldout_combo: "
            "instrument/style pairs never used in training), render the same arrangements "
            "with FluidSynth, and classify both with the instrument-family classifier (trained "
            "on renders only). Prints top-1 accuracy on generated clips beside real renders "
            "and chance, and the fraction of rhythmic prompts whose tempo is within 10%%."
        ),
    )
    p.add_argument("--model", default="mini", metavar="M", help="model (default mini)")
    p.add_argument("-n", "--n", type=int, default=d.n_per_set, help="prompts per set (20)")
    p.add_argument(
        "--sets",
        nargs="+",
        default=list(d.prompt_sets),
        choices=HELD_OUT_SETS,
        metavar="SET",
        help=f"prompt sets (default: {' '.join(HELD_OUT_SETS)})",
    )
    p.add_argument("--steps", type=int, default=d.steps, help="denoising steps (20)")
    p.add_argument("--guidance", type=float, default=d.guidance, help="CFG scale (7)")
    p.add_argument("--seed", type=int, default=d.seed, help="first generation seed (0)")
    p.add_argument(
        "--classifier",
        default=None,
        metavar="PATH",
        help="classifier weights (default: $RIFFGEN_CLASSIFIER or the shipped ones)",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="also write the full report")
    p.add_argument("--scheduler", default="pndm", choices=scheduler_names(), help="sampler")
    p.add_argument("--device", default=None, metavar="D", help="cpu, cuda, mps (default auto)")
    p.add_argument("--dtype", default=None, choices=("auto", "fp32", "fp16", "bf16"))
    p.add_argument("-q", "--quiet", action="store_true", help="no per-clip progress")
    p.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from riffgen.evaluation.adherence import AdherenceConfig, evaluate_adherence
    from riffgen.evaluation.classifier import InstrumentClassifier
    from riffgen.evaluation.report import default_classifier
    from riffgen.synth import fluidsynth_available

    config = AdherenceConfig(
        n_per_set=args.n,
        prompt_sets=tuple(dict.fromkeys(args.sets)),
        steps=args.steps,
        guidance=args.guidance,
        seed=args.seed,
    )
    config.check()
    classifier = (
        InstrumentClassifier.load(args.classifier) if args.classifier else default_classifier()
    )
    if not fluidsynth_available():
        raise RiffgenError("the reference renders need fluidsynth and a GM soundfont: make setup")
    from riffgen.cli.diffusion import quiet_libraries
    from riffgen.diffusion.pipeline import RiffgenPipeline

    quiet_libraries()
    pipe = RiffgenPipeline.from_pretrained(
        args.model, device=args.device, dtype=args.dtype, scheduler=args.scheduler
    )

    def progress(done: int, total: int, prompt: str) -> None:
        print(f"[{done}/{total}] {prompt}", file=sys.stderr, flush=True)

    result = evaluate_adherence(pipe, classifier, config, progress=None if args.quiet else progress)
    total = sum(r.n for k, r in result.generated.items() if k != "all")
    print(
        f"model {args.model}: {total} held-out prompts, {config.steps} {args.scheduler} steps, "
        f"guidance {config.guidance}; generation {result.seconds_generating / total:.2f} s/clip"
    )
    print(result.table())
    overall = result.generated.get("all") or next(iter(result.generated.values()))
    print(f"generated: {overall.summary()}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        config_json = {**config.__dict__, "scheduler": args.scheduler}
        payload = {"model": args.model, "config": config_json, **result.to_json()}
        path.write_text(json.dumps(payload, indent=2))
        print(f"report: {path}")
    return 0
