"""Wall time of `segquality --help` and `segquality analyze --help`: this checkout against an earlier revision.

The earlier revision (default: ``main``) is exported with ``git archive`` into a temporary folder and
run with the same interpreter, interleaved with this checkout's code, so both see the same machine
load. Each run is a fresh process (interpreter start and imports included), as a user's command is.
Prints the median of the repeats, the ratio, and whether torch was imported.

    .venv/bin/python benchmarks/bench_cli_startup.py [--baseline main] [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Runs the CLI from the package folder given first, and reports whether torch was imported.
_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1]); from SegQualityReviewLib.cli import main\n"
    "try:\n    main(sys.argv[2:])\nexcept SystemExit:\n    pass\n"
    "sys.stderr.write('torch imported: %s\\n' % ('torch' in sys.modules))"
)


def export_revision(revision: str, folder: Path) -> Path:
    """The package folder of ``revision``, extracted under ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "SegQualityReview"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder)
    return folder / "SegQualityReview"


def timed_run(package: Path, argv: list[str]) -> tuple[float, bool]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(package), *argv], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    return elapsed, "torch imported: True" in result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        variants = {
            f"baseline ({args.baseline})": export_revision(args.baseline, Path(folder)),
            "this checkout": REPO / "SegQualityReview",
        }
        for argv in (["--help"], ["analyze", "--help"]):
            times: dict[str, list[float]] = {name: [] for name in variants}
            torch_loaded: dict[str, bool] = {}
            for _ in range(args.repeats):
                for name, package in variants.items():
                    elapsed, loaded = timed_run(package, argv)
                    times[name].append(elapsed)
                    torch_loaded[name] = loaded
            print(f"segquality {' '.join(argv)}  (median of {args.repeats}, wall time of a fresh process)")
            medians = {name: statistics.median(values) for name, values in times.items()}
            for name, median in medians.items():
                print(f"  {name:<24} {median:6.2f} s   torch imported: {torch_loaded[name]}")
            baseline, current = medians.values()
            print(f"  ratio baseline / this checkout: {baseline / current:.1f}x")


if __name__ == "__main__":
    main()
