"""The recipe that trains riffgen's own small text-to-music model (``--model mini``).

- :mod:`riffgen.mini.config`: the training scales (the shape is riffgen.models.configs.mini_spec)
- :mod:`riffgen.mini.data`: the synthetic dataset rendered at the mini's spectrogram parameters
- :mod:`riffgen.mini.vae`: the VAE training loop
- :mod:`riffgen.mini.recipe`: the whole recipe (data, build, VAE, UNet, fp16 export)

Loading the shipped model is the registry's job (``riffgen.models.registry``, name ``mini``).
"""
