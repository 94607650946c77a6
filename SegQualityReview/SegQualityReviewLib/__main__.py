"""``python -m SegQualityReviewLib`` runs the ``segquality`` command line."""

import sys

from .cli import main

sys.exit(main())
