"""The ``segquality`` command line: one module per sub-command, each with ``add_parser`` and ``run``.

Every error a user can cause ends as one line on stderr and exit code 2: a ``SegQualityError`` from the
core, a usage error from argparse, or an operating-system error (a file that cannot be written). Warnings
of the core (logged under ``SegQualityReviewLib``) are one line each too. Building the parser imports no
command's dependencies (torch, pandas, matplotlib), so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
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
    "select",
    "train_estimator",
    "eval_estimator",
)
USAGE_ERROR = 2


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (the usage is what ``--help`` is for)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="segquality",
        description="Score, estimate and compare medical image segmentations (SegQualityReview core).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one sub-command; a user error becomes one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    prefix = f"segquality {args.command}"
    warnings = _WarningLines(prefix)
    logging.getLogger("SegQualityReviewLib").addHandler(warnings)
    try:
        return int(args.run(args) or 0)
    except SegQualityError as error:
        print(f"{prefix}: error: {one_line(str(error))}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as error:
        # A file that cannot be read or written (disk full, permissions): the file and the reason, no trace.
        where = f"{error.filename}: " if error.filename else ""
        print(f"{prefix}: error: {one_line(where + (error.strerror or str(error)))}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    finally:
        logging.getLogger("SegQualityReviewLib").removeHandler(warnings)


def one_line(text: str) -> str:
    """``text`` on one line: a file name holding a line break must not split a message in two."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class _WarningLines(logging.Handler):
    """Prints each warning of the core as ``segquality <command>: warning: <message>`` on stderr."""

    def __init__(self, prefix: str) -> None:
        super().__init__(level=logging.WARNING)
        self.prefix = prefix

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{self.prefix}: warning: {one_line(record.getMessage())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
