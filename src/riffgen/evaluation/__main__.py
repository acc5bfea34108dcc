"""``python -m riffgen.evaluation train|check``: see :mod:`riffgen.evaluation.train`."""

import sys

from riffgen.evaluation.train import main

sys.exit(main())
