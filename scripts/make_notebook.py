#!/usr/bin/env python
"""Write examples/mini_model_tour.ipynb (cells kept here as plain text, outputs empty).

Run after editing the cells: ``.venv/bin/python scripts/make_notebook.py``. The tests execute
the notebook top to bottom (tests/test_examples.py).
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        """# riffgen's mini model: a tour, offline on a CPU

Everything here runs without network on a laptop CPU with the **mini** model that ships inside
the riffgen package (17 M-parameter UNet, 0.65 M-parameter VAE, a frozen sentence encoder for
the text, 128-mel spectrograms of 5.11 s). It goes through every feature: text to music, seeds
and negative prompts, audio-to-audio, inpainting, interpolation, and a small prompt-adherence
check. Files go to `notebook-output/` (or `$RIFFGEN_NOTEBOOK_OUT`).""",
    ),
    (
        "code",
        """import os
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="IProgress not found")  # no ipywidgets needed
import diffusers
import numpy as np
import transformers
from IPython.display import Audio, display

# Library chatter (progress bars, optional-backend notes) off: riffgen prints what matters.
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
diffusers.utils.logging.set_verbosity_error()
diffusers.utils.logging.disable_progress_bar()

from riffgen.audio import load_audio, save_audio
from riffgen.audio.image import save_image
from riffgen.demo import demo_clip_path
from riffgen.diffusion import PromptInput, RiffgenPipeline

OUT = Path(os.environ.get("RIFFGEN_NOTEBOOK_OUT", "notebook-output"))
OUT.mkdir(parents=True, exist_ok=True)


def describe(name, out):
    \"\"\"Save a result as WAV + PNG and print what a listener would check first.\"\"\"
    audio = out.audio.mean(axis=0)
    rms_db = 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)
    save_audio(OUT / f"{name}.wav", out.audio, out.sample_rate)
    save_image(OUT / f"{name}.png", out.image)
    print(f"{name}: {out.duration_s:.2f} s, RMS {rms_db:.1f} dBFS, image {out.image.size}")
    return rms_db""",
    ),
    ("md", '## Load the shipped model\n`"mini"` resolves to the weights inside the package.'),
    (
        "code",
        """start = time.perf_counter()
pipe = RiffgenPipeline.from_pretrained("mini", device="cpu")
print(f"loaded in {time.perf_counter() - start:.1f} s")
print("spectrogram:", pipe.spectrogram_params.num_frequencies, "mels,",
      pipe.spectrogram_params.max_frequency, "Hz top")
print("UNet parameters:", sum(p.numel() for p in pipe.unet.parameters()))""",
    ),
    ("md", "## Text to music"),
    (
        "code",
        """start = time.perf_counter()
drums = pipe.text_to_audio("fast punk drum beat with distorted guitar", seed=1,
                           num_inference_steps=20)
print(f"generated in {time.perf_counter() - start:.1f} s")
describe("drums", drums)
display(drums.image)
display(Audio(drums.audio.mean(axis=0), rate=drums.sample_rate))""",
    ),
    (
        "md",
        """Prompts change the music. Drums are short broadband hits (the spectrum changes a lot
from one 10 ms column to the next); a violin holds notes (horizontal lines). The column-to-column
change ("flux") of the two spectrograms shows it:""",
    ),
    (
        "code",
        """violin = pipe.text_to_audio("a slow sad violin melody in A minor", seed=1,
                            num_inference_steps=20)
describe("violin", violin)
display(violin.image)


def flux(image):
    mel = np.asarray(image.convert("L"), dtype=np.float32) / 255
    return float(np.abs(np.diff(mel, axis=1)).mean())


print(f"flux: drums {flux(drums.image):.4f}, violin {flux(violin.image):.4f}, "
      f"ratio {flux(drums.image) / flux(violin.image):.2f}")""",
    ),
    (
        "md",
        "## Seeds and negative prompts\nThe same prompt with another seed is a new variation; the same seed gives the same clip.",
    ),
    (
        "code",
        """a = pipe.text_to_audio("funky bass riff", seed=7, num_inference_steps=20)
b = pipe.text_to_audio("funky bass riff", seed=7, num_inference_steps=20)
c = pipe.text_to_audio("funky bass riff", seed=8, num_inference_steps=20)
print("same seed, same audio:", np.array_equal(a.audio, b.audio))
print("another seed differs:", not np.array_equal(a.audio, c.audio))
calm = pipe.text_to_audio("piano chords", negative_prompt="drums", seed=3,
                          num_inference_steps=20)
describe("piano_no_drums", calm)""",
    ),
    (
        "md",
        "## Audio to audio\nThe shipped demo clip (a FluidSynth band), re-imagined as an organ piece. `denoising` sets how far it may move from the input.",
    ),
    (
        "code",
        """audio, sr = load_audio(demo_clip_path())
organ = pipe.audio_to_audio("a slow church organ chord progression", init_audio=audio,
                            sample_rate=sr, denoising=0.6, seed=0, num_inference_steps=20)
describe("demo_as_organ", organ)
display(organ.image)""",
    ),
    (
        "md",
        "## Inpainting\nRepaint 2.0-3.5 s of the drum clip with a saxophone; the rest comes back unchanged.",
    ),
    (
        "code",
        """patched = pipe.inpaint("smooth jazz saxophone solo", init_image=drums.image,
                       start_s=2.0, end_s=3.5, seed=0, num_inference_steps=20)
describe("drums_with_sax", patched)
left = np.asarray(drums.image)[:, :150]
print("untouched part identical:", np.array_equal(np.asarray(patched.image)[:, :150], left))
display(patched.image)""",
    ),
    (
        "md",
        "## Interpolation\nHalfway between two prompts, starting from the violin clip (what the endless-music engine does between clips).",
    ),
    (
        "code",
        """start_p = PromptInput("a slow sad violin melody", seed=1, denoising=0.7)
end_p = PromptInput("fast punk drum beat", seed=2, denoising=0.7)
for alpha in (0.0, 0.5, 1.0):
    mid = pipe.interpolate(start_p, end_p, alpha, init_image=violin.image,
                           num_inference_steps=20)
    describe(f"interpolate_{alpha:.1f}", mid)
    print(f"  alpha {alpha}: flux {flux(mid.image):.4f}")""",
    ),
    (
        "md",
        """## Does it follow the prompt?
`riffgen evaluate` generates clips for prompts held out of training (new wording, unseen
instrument/style pairs) and classifies them with an instrument-family classifier trained on
FluidSynth renders. A small run here; the CLI's default uses 20 prompts per set.""",
    ),
    (
        "code",
        """from riffgen.evaluation import default_classifier
from riffgen.evaluation.adherence import AdherenceConfig, evaluate_adherence

result = evaluate_adherence(pipe, default_classifier(), AdherenceConfig(n_per_set=2, steps=20))
print(result.table())
for clip in result.clips:
    print(f"{clip.prompt_set:17} asked {'+'.join(clip.families):28} "
          f"generated {clip.generated_top1:17} real render {clip.real_top1}")""",
    ),
    ("md", "All files are in `notebook-output/`: listen to them, open the PNGs."),
    ("code", """print(sorted(p.name for p in OUT.iterdir()))"""),
]


def main() -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS
    ]
    path = Path(__file__).resolve().parents[1] / "examples" / "mini_model_tour.ipynb"
    nbformat.write(nb, str(path))
    print(path)


if __name__ == "__main__":
    main()
