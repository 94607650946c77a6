"""compare on a real Dask LocalCluster (2 worker processes): the local run's results, the cache, retries
of a killed worker's cells, a file a worker cannot read; the local pool's errors."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from subprocess import DEVNULL

import psutil
import pytest

from SegQualityReviewLib.batch import BatchConfigError, load_config, run_compare
from SegQualityReviewLib.batch.cache import ScoreCache
from SegQualityReviewLib.batch.cases import match_cases
from SegQualityReviewLib.batch.executors import CellLostError, DaskExecutor, ExecutorSettings, LocalExecutor
from SegQualityReviewLib.batch.pipeline import cache_folder
from SegQualityReviewLib.batch.scale_cohort import write_scale_cohort
from SegQualityReviewLib.batch.scoring import build_tasks, score_all
from SegQualityReviewLib.cli import main

distributed = pytest.importorskip("distributed", reason="Dask distributed not installed")

TEST_RESAMPLES = 200


@pytest.fixture(scope="module")
def dask_cluster():
    """A real LocalCluster: 2 worker processes of 1 thread each, each with its nanny."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    yield cluster
    cluster.close()


@pytest.fixture()
def dask_client(dask_cluster):
    client = distributed.Client(dask_cluster, set_as_default=False)
    client.wait_for_workers(2)
    yield client
    client.close()


def test_compare_on_a_dask_cluster_writes_the_local_runs_cases_csv_and_analysis(
    phantom_run, dask_cluster, tmp_path
):
    out = tmp_path / "dask"
    argv = ["compare", "--config", str(phantom_run.cohort.config_path), "--out", str(out)]
    argv += ["--scheduler", dask_cluster.scheduler_address, "--n-resamples", str(TEST_RESAMPLES)]
    assert main(argv + ["--no-progress"]) == 0
    local = phantom_run.outputs
    assert (out / "cases.csv").read_bytes() == local.scores_path.read_bytes()
    dask_results = json.loads((out / "results.json").read_text())
    assert dask_results["analysis"] == json.loads(local.results_path.read_text())["analysis"]
    assert dask_results["config_hash"] == local.results["config_hash"]
    assert (out / "report.html").is_file()


def test_a_dask_run_resumes_from_the_cells_an_interrupted_run_cached(phantom_run, dask_cluster, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(cache_folder(phantom_run.outputs.out_dir), cache_folder(out))
    cached = sorted(cache_folder(out).glob("*.json"))
    for entry in cached[: len(cached) // 2]:
        entry.unlink()
    config = load_config(phantom_run.cohort.config_path, workers=2)
    config = replace(
        config,
        analysis=replace(config.analysis, n_resamples=TEST_RESAMPLES),
        executor=ExecutorSettings(scheduler=dask_cluster.scheduler_address),
    )
    reports = []
    outputs = run_compare(config, out, progress=False, on_progress=lambda f, m: reports.append((f, m)))
    kept = len(cached) - len(cached) // 2
    assert reports[0][1] == f"scored {kept}/{len(cached)} cells"
    assert outputs.scores_path.read_bytes() == phantom_run.outputs.scores_path.read_bytes()


def square_after_a_while(cell: tuple[int, str]) -> tuple[int, int]:
    """A cell that leaves a mark when it starts, takes a second, and returns its square and its process."""
    number, marks = cell
    Path(marks, f"{number}-{os.getpid()}").touch()
    time.sleep(1.0)
    return number * number, os.getpid()


def test_the_cells_of_a_killed_dask_worker_are_run_again(dask_client, tmp_path):
    executor = DaskExecutor(dask_client, "test cluster")
    cells = [(number, str(tmp_path)) for number in range(8)]
    worker_pids = set(dask_client.run(os.getpid).values())
    results = {}
    killed = None
    for index, (square, pid) in executor.run(square_after_a_while, cells):
        results[index] = square
        if killed is None:
            # The other worker is half-way through a cell now: kill it.
            killed = (worker_pids - {pid}).pop()
            os.kill(killed, signal.SIGKILL)
    assert results == {number: number * number for number in range(8)}
    started_on_killed = {int(mark.name.split("-")[0]) for mark in tmp_path.glob(f"*-{killed}")}
    assert started_on_killed, "the killed worker had started no cell"
    for number in started_on_killed:
        assert len(list(tmp_path.glob(f"{number}-*"))) == 2, f"cell {number} was not run again"


def test_a_prediction_a_worker_cannot_read_fails_its_cell_not_the_run(dask_client, fresh_cohort, test_config):
    config = test_config(fresh_cohort)
    tasks, _ = build_tasks(config, match_cases(config)[0])
    vanished = next(task for task in tasks if task.pred_path is not None)
    vanished.pred_path.unlink()  # as on a worker that does not mount the prediction folder
    results = score_all(
        tasks,
        ScoreCache(fresh_cohort.root / "cache"),
        executor=DaskExecutor(dask_client, "test"),
        progress=False,
    )
    assert len(results) == len(tasks)
    failed = [r for r in results if r.note]
    lost = next(r for r in failed if (r.case_id, r.model) == (vanished.case_id, vanished.model))
    assert str(vanished.pred_path) in lost.note
    assert {row["status"] for row in lost.rows} == {"failed"}
    assert sum(row["status"] == "ok" for r in results for row in r.rows) > 0.8 * sum(
        len(r.rows) for r in results
    )


def with_executor(cohort, section: str) -> Path:
    """A copy of the cohort's config beside it, with an ``executor:`` section."""
    path = cohort.config_path.with_name("with_executor.yaml")
    path.write_text(cohort.config_path.read_text() + f"executor: {section}\n")
    return path


def test_an_unreachable_scheduler_is_one_clear_error(fresh_cohort, tmp_path, capsys):
    config = with_executor(fresh_cohort, "{scheduler: 'tcp://127.0.0.1:9', connect_timeout_s: 1}")
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "could not reach the Dask scheduler at 'tcp://127.0.0.1:9'" in message[0]


def exit_in_the_worker(cell: int) -> int:
    if cell == 3:
        os._exit(9)
    return cell


def test_a_local_worker_that_dies_stops_the_run_with_one_line_naming_the_cell():
    # Every cell in flight breaks with the pool; the message names the one whose result was awaited.
    with pytest.raises(CellLostError, match=r"a worker process died while scoring cell \d"):
        for _ in LocalExecutor(workers=2).run(
            exit_in_the_worker, list(range(6)), label=lambda c: f"cell {c}"
        ):
            pass


def test_one_local_worker_runs_the_cells_in_this_process_in_order():
    ran = list(LocalExecutor(workers=1).run(lambda cell: (cell, os.getpid()), [5, 6, 7]))
    assert ran == [(0, (5, os.getpid())), (1, (6, os.getpid())), (2, (7, os.getpid()))]


def test_the_executor_section_of_a_config_is_read_and_checked(fresh_cohort):
    config = with_executor(fresh_cohort, "{scheduler: 'tcp://cluster:8786'}")
    assert load_config(config).executor == ExecutorSettings(scheduler="tcp://cluster:8786")
    config = with_executor(fresh_cohort, "{scheduler: 'tcp://cluster:8786', connect_timeout_s: -1}")
    with pytest.raises(BatchConfigError, match="connect_timeout_s: must be above 0"):
        load_config(config)
    with pytest.raises(
        BatchConfigError, match=r"unknown key 'executor.schedular' \(did you mean 'scheduler'\?\)"
    ):
        load_config(with_executor(fresh_cohort, "{schedular: 'tcp://cluster:8786'}"))


def living(processes) -> list[psutil.Process]:
    """The processes still running (a zombie waiting for its reaper has ended)."""
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


@pytest.mark.parametrize(
    "scheduler",
    [None, pytest.param("local", marks=pytest.mark.slow)],
    ids=["local-pool", "dask-local-cluster"],
)
def test_compare_killed_by_sigkill_while_scoring_leaves_no_process_behind(tmp_path, scheduler):
    cohort = write_scale_cohort(tmp_path / "cohort", n_cases=30)
    out = tmp_path / "out"
    command = [sys.executable, "-c", "import sys; from SegQualityReviewLib.cli import main; sys.exit(main())"]
    command += ["compare", "--config", str(cohort.config_path), "--out", str(out), "--workers", "2"]
    command += ["--no-progress"] + ([] if scheduler is None else ["--scheduler", scheduler])
    compare = subprocess.Popen(command, stdout=DEVNULL, stderr=DEVNULL, start_new_session=True)
    parent = psutil.Process(compare.pid)
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 240

        def spawned_workers() -> list[psutil.Process]:
            return [child for child in seen.values() if "spawn_main" in " ".join(child.cmdline())]

        while not any(cache_folder(out).glob("*.json")) or len(spawned_workers()) < 2:
            assert compare.poll() is None, "compare ended before it scored a cell"
            assert time.monotonic() < deadline, "compare scored no cell within 4 minutes"
            seen.update((child.pid, child) for child in parent.children(recursive=True))
            time.sleep(0.05)
        seen.update((child.pid, child) for child in parent.children(recursive=True))
        # Counted before the kill: a dead process has no command line left to recognise it by.
        workers_at_kill = len(spawned_workers())
        compare.send_signal(signal.SIGKILL)
        compare.wait()
        assert not (out / "results.json").exists(), "the run was over before the kill"
        assert workers_at_kill >= 2
        deadline = time.monotonic() + 30
        while living(seen.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [" ".join(process.cmdline())[:80] for process in living(seen.values())]
        assert not left, f"left running after compare was killed: {left}"
    finally:
        for process in living(seen.values()):
            process.kill()
