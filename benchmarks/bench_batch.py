"""How compare's scoring grows with the number of cases, on the local pool and on a Dask cluster.

A SYNTHETIC cohort (``batch.scale_cohort``: generated 64^3 label volumes, 10 structures, 5 models with
different damage) at ``--sizes`` cases (default 100, 300 and 1,000: 500 to 5,000 cells). For each size
and executor the scoring stage of compare runs from an empty cache, as ``run_compare`` runs it
(``build_tasks``, then ``score_all`` through the executor: cells read, scored and cached):

- ``local``: the local pool of ``--workers`` spawned processes (what ``compare --workers N`` uses);
- ``dask``: a ``LocalCluster`` of ``--workers`` processes with one thread each, started before the clock
  and reached by its address, exactly as ``compare --scheduler tcp://...`` reaches a real cluster.

Printed per run: cells, seconds, cells per second, the peak resident memory of this process (the client:
task list, results, cache writes) and of the largest worker process (sampled every 0.2 s with psutil).
Then per executor the least-squares slope of seconds against cells with its intercept, the ratio of the
time per cell at the largest size to the smallest (1.0 = linear growth), and the slope of the client's
and the largest worker's peak memory in MB per 1,000 cases (0 = flat). The analysis and the report after
scoring are not timed: they do not depend on the executor.

Run: ``nice .venv/bin/python benchmarks/bench_batch.py [--sizes 100 300 1000] [--workers 2]
[--executors local dask] [--cohort DIR]`` (the cohort is generated once into DIR and reused).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from SegQualityReviewLib.batch import load_config
from SegQualityReviewLib.batch.cache import ScoreCache
from SegQualityReviewLib.batch.cases import match_cases
from SegQualityReviewLib.batch.executors import DaskExecutor, LocalExecutor
from SegQualityReviewLib.batch.scale_cohort import write_scale_cohort
from SegQualityReviewLib.batch.scoring import build_tasks, score_all


@dataclass(frozen=True)
class Run:
    executor: str
    cases: int
    cells: int
    seconds: float
    client_peak_mb: float
    worker_peak_mb: float


class MemorySampler:
    """Peak resident memory of this process and of its largest descendant, sampled in a thread."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.worker_peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemorySampler:
        Path("/proc/self/clear_refs").write_text("5")  # reset this process's peak-RSS mark
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def client_peak_mb(self) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("/proc/self/status has no VmHWM")

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.interval_s):
            for child in me.children(recursive=True):
                try:
                    self.worker_peak_mb = max(self.worker_peak_mb, child.memory_info().rss / 2**20)
                except psutil.NoSuchProcess:
                    pass


def score_once(config_path: Path, executor_name: str, workers: int, scratch: Path) -> Run:
    config = load_config(config_path, workers=workers)
    cases, _ = match_cases(config)
    out = Path(tempfile.mkdtemp(dir=scratch))
    cluster = None
    try:
        if executor_name == "dask":
            from distributed import Client, LocalCluster

            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        with MemorySampler() as memory:
            began = time.perf_counter()
            tasks, _ = build_tasks(config, cases)
            if cluster is None:
                score_all(tasks, ScoreCache(out), executor=LocalExecutor(workers=workers), progress=False)
            else:
                with Client(cluster.scheduler_address, set_as_default=False) as client:
                    executor = DaskExecutor(client, cluster.scheduler_address)
                    score_all(tasks, ScoreCache(out), executor=executor, progress=False)
            seconds = time.perf_counter() - began
        return Run(
            executor_name, len(cases), len(tasks), seconds, memory.client_peak_mb, memory.worker_peak_mb
        )
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(out, ignore_errors=True)


def summarize(runs: list[Run]) -> None:
    for executor in sorted({run.executor for run in runs}):
        mine = sorted((run for run in runs if run.executor == executor), key=lambda run: run.cases)
        if len(mine) < 2:
            continue
        cells = np.array([run.cells for run in mine], dtype=float)
        cases = np.array([run.cases for run in mine], dtype=float)
        seconds = np.array([run.seconds for run in mine])
        slope, intercept = np.polyfit(cells, seconds, 1)
        per_cell = (seconds[-1] / cells[-1]) / (seconds[0] / cells[0])
        client_slope = np.polyfit(cases, [run.client_peak_mb for run in mine], 1)[0] * 1000
        worker_slope = np.polyfit(cases, [run.worker_peak_mb for run in mine], 1)[0] * 1000
        print(
            f"{executor}: {slope * 1000:.1f} ms per cell + {intercept:.1f} s fixed; time per cell at "
            f"{mine[-1].cases} cases / at {mine[0].cases}: {per_cell:.2f}; peak memory slope: client "
            f"{client_slope:+.1f} MB, largest worker {worker_slope:+.1f} MB per 1,000 cases"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--executors", nargs="+", choices=("local", "dask"), default=["local", "dask"])
    parser.add_argument(
        "--cohort", type=Path, default=Path(tempfile.gettempdir()) / "segquality-bench-batch-cohort"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; {args.workers} workers"
    )
    print(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    began = time.perf_counter()
    cohort = write_scale_cohort(args.cohort, n_cases=max(args.sizes))
    print(
        f"cohort: {cohort.root} ({cohort.n_cases} cases x {len(cohort.models)} models), ready in "
        f"{time.perf_counter() - began:.0f} s"
    )
    print(
        f"{'executor':<10}{'cases':>7}{'cells':>7}{'seconds':>9}{'cells/s':>9}{'client MB':>11}{'worker MB':>11}"
    )
    runs = []
    scratch = Path(tempfile.mkdtemp(prefix="segquality-bench-batch-"))
    try:
        for size in sorted(args.sizes):
            config_path = cohort.config_for(size)
            for executor in args.executors:
                run = score_once(config_path, executor, args.workers, scratch)
                runs.append(run)
                print(
                    f"{run.executor:<10}{run.cases:>7}{run.cells:>7}{run.seconds:>9.1f}"
                    f"{run.cells / run.seconds:>9.1f}{run.client_peak_mb:>11.0f}{run.worker_peak_mb:>11.0f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summarize(runs)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}; total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
