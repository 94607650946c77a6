"""Argument types shared by the sub-commands: numbers that must be finite and in range.

Each raises ``argparse.ArgumentTypeError``, which the one-line parser reports as
``segquality <command>: error: argument --threshold: ...`` with exit code 2.
"""

from __future__ import annotations

import argparse
import math


def fraction(text: str) -> float:
    """A number from 0 to 1 (a Dice threshold): ``nan``, ``2`` and ``-0.1`` are refused."""
    value = _finite(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1")
    return value


def positive_number(text: str) -> float:
    """A finite number above 0 (a tolerance in mm)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
    return value


def non_negative_number(text: str) -> float:
    """A finite number of 0 or more (a tolerance)."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not 0 or more")
    return value


def positive_integer(text: str) -> int:
    """A whole number of 1 or more (workers, threads, resamples)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1 or more")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value
