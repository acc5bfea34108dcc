"""What a riffgen model is: its folder format, the known configurations and one registry.

Every loader (pipeline, trainer, server, benches, tests) goes through :func:`load_components`;
nothing else reads ``riffgen.json`` or knows where ``mini`` lives.
"""

from __future__ import annotations

DEFAULT_MODEL = "riffusion/riffusion-model-v1"
