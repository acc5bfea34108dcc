"""riffgen's own small text-to-music model, trained from scratch (``--model mini``).

- :mod:`riffgen.mini.config`: spectrogram parameters, architecture, training scales
- :mod:`riffgen.mini.text`: the frozen all-MiniLM-L6-v2 text encoder, referenced by a marker
- :mod:`riffgen.mini.build`: a random-initialised model folder (diffusers layout)
- :mod:`riffgen.mini.data`: the synthetic dataset rendered at the mini's spectrogram parameters
- :mod:`riffgen.mini.vae`: the VAE training loop
- :mod:`riffgen.mini.train`: the whole recipe (data, build, VAE, UNet, fp16 export)
- :mod:`riffgen.mini.shipped`: the shipped folder ``riffgen/data/models/mini``

Kept import-light: the loaders import :mod:`~riffgen.mini.text` and :mod:`~riffgen.mini.shipped`.
"""

from riffgen.mini.shipped import MINI_NAME, resolve_mini, shipped_model_dir

__all__ = ["MINI_NAME", "resolve_mini", "shipped_model_dir"]
