"""`segquality analyze` with the report on a Touchstone-size cohort, against another git revision in the same run.

The cohort is SYNTHETIC (``batch.synthetic_scores``: 19 models x 743 cases x 9 organs x 2 metrics, seeded),
the size of Touchstone's published tables, with their blanks (absent organs, one model's missing cases).
Each revision runs the user's command as a subprocess, imports and CSV reading included, on the same
table: this checkout as ``python -m SegQualityReviewLib analyze`` with the Touchstone reading of blanks
(``--missing-blank not_evaluable --alignment per_pair``), the baseline (``--baseline``, default ``main``,
extracted with ``git archive`` into the work folder) with the options it knows (it reads a blank as a
failed cell). Printed per revision: median wall time of ``--repeats`` runs, the CPU time of the child
(user + system), report.html and results.json sizes, and the ratios. Goal (issue 12): at most 60 s wall
and a report of at most 3 MB on 2 CPU cores.

Run: ``.venv/bin/python benchmarks/bench_report.py [--work /work/cache/h12/bench] [--repeats 1] [--baseline main]``
     ``--models 19 --cases 743`` to change the size; ``--no-baseline`` to time this checkout alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 60.0
GOAL_BYTES = 3 * 1024 * 1024


def write_cohort(path: Path, *, models: int, cases: int) -> None:
    sys.path.insert(0, str(REPO / "SegQualityReview"))
    from SegQualityReviewLib.batch.synthetic_scores import synthetic_score_table

    synthetic_score_table(n_models=models, n_cases=cases).to_csv(path, index=False)


def extract_baseline(revision: str, target: Path) -> Path:
    """The baseline's package sources (``git archive``), once per revision."""
    source = target / revision.replace("/", "_")
    if not (source / "SegQualityReview" / "SegQualityReviewLib").is_dir():
        source.mkdir(parents=True, exist_ok=True)
        archive = source / "source.tar"
        subprocess.run(
            ["git", "archive", "--format=tar", "-o", str(archive), revision, "SegQualityReview"],
            cwd=REPO,
            check=True,
        )
        with tarfile.open(archive) as handle:
            handle.extractall(source)
        archive.unlink()
    return source / "SegQualityReview"


def timed_run(command: list[str], *, environment: dict[str, str]) -> tuple[float, float]:
    """Wall and child CPU seconds (user + system) of one subprocess run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{completed.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(
    label: str, package: Path, options: list[str], table: Path, out: Path, repeats: int
) -> dict[str, float]:
    environment = {**os.environ, "PYTHONPATH": str(package)}
    command = [
        sys.executable,
        "-m",
        "SegQualityReviewLib",
        "analyze",
        "--scores",
        str(table),
        "--out",
        str(out),
    ]
    runs = [timed_run(command + options, environment=environment) for _ in range(repeats)]
    result = {
        "wall": statistics.median(wall for wall, _ in runs),
        "cpu": statistics.median(cpu for _, cpu in runs),
        "report": (out / "report.html").stat().st_size,
        "results": (out / "results.json").stat().st_size,
    }
    print(
        f"{label:<10} wall {result['wall']:7.1f} s   cpu {result['cpu']:7.1f} s   "
        f"report.html {result['report'] / 1e6:6.2f} MB   results.json {result['results'] / 1e6:6.2f} MB"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/segquality-bench-report"))
    parser.add_argument("--models", type=int, default=19)
    parser.add_argument("--cases", type=int, default=743)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline", default="main", help="git revision to compare against")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    table = args.work / f"synthetic_{args.models}x{args.cases}.csv"
    if not table.is_file():
        write_cohort(table, models=args.models, cases=args.cases)
    print(
        f"{args.models} models x {args.cases} cases x 9 organs x 2 metrics (SYNTHETIC), B = 10,000; "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; load {os.getloadavg()[0]:.1f}"
    )
    current = measure(
        "this",
        REPO / "SegQualityReview",
        ["--metrics", "dice,nsd", "--missing-blank", "not_evaluable", "--alignment", "per_pair"],
        table,
        args.work / "out_this",
        args.repeats,
    )
    print(
        f"goal: wall <= {GOAL_SECONDS:.0f} s ({'met' if current['wall'] <= GOAL_SECONDS else 'NOT met'}), "
        f"report <= 3 MB ({'met' if current['report'] <= GOAL_BYTES else 'NOT met'})"
    )
    if args.no_baseline:
        return
    baseline = measure(
        args.baseline,
        extract_baseline(args.baseline, args.work / "baseline"),
        ["--metrics", "dice,nsd"],
        table,
        args.work / "out_baseline",
        args.repeats,
    )
    print(
        f"ratio this / {args.baseline}: wall {current['wall'] / baseline['wall']:.2f}, "
        f"cpu {current['cpu'] / baseline['cpu']:.2f}, report size {current['report'] / baseline['report']:.2f}"
    )


if __name__ == "__main__":
    main()
