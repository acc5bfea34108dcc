"""``python -m riffgen.evaluation train|check``: see :mod:`riffgen.evaluation.fit`."""

import sys

from riffgen.evaluation.fit import main

sys.exit(main())
