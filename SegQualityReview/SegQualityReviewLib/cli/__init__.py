"""The ``segquality`` command line: one module per sub-command, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ..errors import SegQualityError

# Sub-command modules of this package, in the order `segquality --help` lists them.
COMMAND_MODULES = (
    "score",
    "compare",
    "analyze",
    "reanalyze",
    "demo",
    "segment",
    "models",
    "estimate",
    "train_estimator",
    "eval_estimator",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segquality",
        description="Score, estimate and compare medical image segmentations (SegQualityReview core).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one sub-command; a ``SegQualityError`` becomes one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SegQualityError as error:
        print(f"segquality {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"segquality {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
