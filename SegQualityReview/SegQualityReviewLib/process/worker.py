"""The worker process: read one image, run one segmenter, write the label image and its label map.

Run as ``python -m SegQualityReviewLib.process.worker --image I --model NAME --out S.nii.gz``; it prints
``PROGRESS`` lines while it works and one ``ERROR`` line (exit code 2) when a user-facing error stops it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import SegQualityError
from ..io import read_volume
from ..segmenters.base import RunControl
from ..segmenters.output import write_segmentation
from ..segmenters.registry import build_segmenter
from .progress_lines import format_error, print_progress


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m SegQualityReviewLib.process.worker", description=__doc__)
    parser.add_argument("--image", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--model-config")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        segmenter = build_segmenter(args.model, config=args.model_config, device=args.device)
        print_progress(0.0, f"reading {args.image}")
        volume = read_volume(args.image)
        control = RunControl(
            on_progress=lambda fraction, message: print_progress(0.05 + 0.9 * fraction, message)
        )
        structures = segmenter.run(volume, control=control)
        print_progress(0.95, "writing")
        write_segmentation(structures, args.out)
        print_progress(1.0, "done")
    except SegQualityError as error:
        print(format_error(str(error)), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
