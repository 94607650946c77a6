"""Where compare's cells run: this process, a local pool of worker processes, or a Dask cluster.

An executor runs one picklable function on small picklable cell records (file paths and options, never
arrays) and yields ``(index, result)`` as each cell finishes, in completion order. It knows nothing of
metrics: ``batch.scoring`` hands it ``score_cell`` and ``CellTask`` records, and any other per-cell job
(the reference-free compare) can hand it its own function and records.

- ``LocalExecutor``: with one worker the cells run in this process; otherwise in spawned worker
  processes (one torch thread each) that exit when this process dies, even by SIGKILL.
- ``DaskExecutor``: a ``distributed.Client`` on a running scheduler (``--scheduler tcp://host:8786``, the
  address a dask-jobqueue, Kubernetes or cloud cluster prints), or on a ``LocalCluster`` that it starts
  itself for ``--scheduler local``. Progress comes from ``distributed.as_completed``; a cell whose worker
  died is run again on another worker by the scheduler (up to ``distributed.scheduler.allowed-failures``).

Both keep only a window of cells in flight, so memory does not grow with the number of cells. docs/batch.md
("Running on a cluster") says how to point a run at a cluster and what was verified.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, Sequence, TypeVar

from .. import __version__
from ..errors import SegQualityError
from .errors import BatchConfigError
from .settings_schema import check_instance, rule

Cell = TypeVar("Cell")
Result = TypeVar("Result")

LOCAL_CLUSTER = "local"
# Cells in flight per worker thread: enough to keep every worker busy while results travel back.
_IN_FLIGHT_PER_THREAD = 4
# The Dask window never falls below this, so a cluster that is still adding workers is fed.
_MIN_DASK_IN_FLIGHT = 256
# Completions between two looks at the cluster's thread count (an adaptive cluster grows and shrinks).
_WINDOW_REFRESH = 64


class CellLostError(SegQualityError):
    """A cell's worker process died (killed, or out of memory) more often than the executor retries."""


@dataclass(frozen=True)
class ExecutorSettings:
    """The ``executor:`` section of a compare config: where the cells run (never part of any result).

    ``scheduler``: "" for local worker processes (``--workers`` of them), ``local`` for a Dask
    ``LocalCluster`` started for this run, or the address of a running Dask scheduler
    (``tcp://host:8786``). ``connect_timeout_s``: how long to try reaching that scheduler.
    """

    scheduler: str = field(
        default="",
        metadata=rule(doc='"" local processes, "local" a LocalCluster, or a Dask scheduler address'),
    )
    connect_timeout_s: float = field(
        default=10.0, metadata=rule(above=0, doc="seconds to try reaching the scheduler")
    )

    def __post_init__(self) -> None:
        check_instance(self, where="executor")


class CellExecutor(Protocol):
    """Runs ``function(cell)`` for every cell and yields ``(index into cells, result)`` as each finishes."""

    description: str

    def run(
        self, function: Callable[[Cell], Result], cells: Sequence[Cell], *, label: Callable[[Cell], str] = str
    ) -> Iterator[tuple[int, Result]]: ...


@contextmanager
def open_executor(settings: ExecutorSettings, *, workers: int) -> Iterator[CellExecutor]:
    """The executor ``settings`` name, connected (Dask) for the duration of the block and closed after."""
    if not settings.scheduler:
        yield LocalExecutor(workers=workers)
        return
    with DaskExecutor.connect(
        settings.scheduler, local_workers=workers, timeout_s=settings.connect_timeout_s
    ) as executor:
        yield executor


class LocalExecutor:
    """Cells in this process (``workers`` 1) or in ``workers`` spawned processes."""

    def __init__(self, *, workers: int) -> None:
        self.workers = max(1, int(workers))
        self.description = "this process" if self.workers == 1 else f"{self.workers} local worker processes"

    def run(
        self, function: Callable[[Cell], Result], cells: Sequence[Cell], *, label: Callable[[Cell], str] = str
    ) -> Iterator[tuple[int, Result]]:
        if self.workers == 1 or len(cells) <= 1:
            for index, cell in enumerate(cells):
                yield index, function(cell)
            return
        # spawn, not fork: a forked child of a process that already ran torch can deadlock in its thread pool.
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(cells)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
        )
        in_flight: dict[Future, int] = {}
        queued = iter(enumerate(cells))
        window = _IN_FLIGHT_PER_THREAD * self.workers
        try:
            while True:
                for index, cell in queued:
                    in_flight[pool.submit(function, cell)] = index
                    if len(in_flight) >= window:
                        break
                if not in_flight:
                    return
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    index = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        raise CellLostError(_lost_message(label(cells[index]))) from None
                    yield index, result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Cells as Dask futures on a ``distributed`` cluster."""

    def __init__(self, client: Any, description: str) -> None:
        self.client = client
        self.description = description

    @classmethod
    @contextmanager
    def connect(
        cls, scheduler: str, *, local_workers: int, timeout_s: float = 10.0
    ) -> Iterator[DaskExecutor]:
        """A client on ``scheduler`` (an address, or ``local`` for a LocalCluster of ``local_workers``)."""
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise BatchConfigError(
                "--scheduler needs Dask: pip install dask[distributed] (requirements/runtime.txt pins it)"
            ) from None
        cluster = None
        try:
            if scheduler == LOCAL_CLUSTER:
                cluster = LocalCluster(
                    n_workers=max(1, int(local_workers)),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                client = Client(cluster, set_as_default=False)
                description = f"a Dask LocalCluster of {max(1, int(local_workers))} worker processes"
            else:
                client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False)
                description = f"the Dask scheduler at {scheduler}"
        except (OSError, TimeoutError, ValueError) as error:
            if cluster is not None:
                cluster.close()
            raise BatchConfigError(f"could not reach the Dask scheduler at '{scheduler}': {error}") from None
        try:
            _check_worker_versions(client, scheduler)
            yield cls(client, description)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def run(
        self, function: Callable[[Cell], Result], cells: Sequence[Cell], *, label: Callable[[Cell], str] = str
    ) -> Iterator[tuple[int, Result]]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        run_id = uuid.uuid4().hex[:12]
        queued = iter(enumerate(cells))
        index_of: dict[str, int] = {}

        def submit(count: int) -> list[Any]:
            futures: list[Any] = []
            if count <= 0:
                return futures
            for index, cell in queued:
                key = f"segquality-cell-{run_id}-{index}"
                futures.append(self.client.submit(function, cell, key=key, pure=False))
                index_of[key] = index
                if len(futures) >= count:
                    break
            return futures

        window = self._window()
        completed = as_completed(submit(window), loop=self.client.loop)
        try:
            for done, future in enumerate(completed, start=1):
                index = index_of.pop(future.key)
                try:
                    result = future.result()
                except KilledWorker:
                    raise CellLostError(_lost_message(label(cells[index]))) from None
                future.release()
                if done % _WINDOW_REFRESH == 0:
                    window = self._window()
                for more in submit(window - completed.count()):
                    completed.add(more)
                yield index, result
        finally:
            pending = list(completed.futures)
            if pending:
                self.client.cancel(pending)

    def _window(self) -> int:
        threads = sum(self.client.nthreads().values())
        return max(_MIN_DASK_IN_FLIGHT, _IN_FLIGHT_PER_THREAD * threads)


def start_worker() -> None:
    """Set up a local worker process: one torch thread, and exit as soon as the parent process is gone.

    The parent's sentinel (a pipe end on POSIX, a process handle on Windows) becomes ready when the parent
    dies, however it dies; a daemon thread waits on it and ends the worker, whose pool would otherwise
    wait for work forever (and keep multiprocessing's resource tracker alive with it).
    """
    import torch

    torch.set_num_threads(1)
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def exit_with_parent() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=exit_with_parent, name="exit-with-parent", daemon=True).start()


def _lost_message(cell: str) -> str:
    return (
        f"a worker process died while scoring {cell} or a cell beside it (killed, or out of memory); the "
        "cells already scored are cached: run the same command again to resume"
    )


def _check_worker_versions(client: Any, scheduler: str) -> None:
    """Refuse workers that lack this package or run another version: their cells would not match."""
    try:
        versions = client.run(_package_version)
    except Exception as error:  # whatever a worker raised while unpickling or running the check
        raise BatchConfigError(
            f"the Dask workers of '{scheduler}' cannot run SegQualityReviewLib ({type(error).__name__}: "
            f"{error}): install this package, version {__version__}, on every worker"
        ) from None
    wrong = {worker: version for worker, version in versions.items() if version != __version__}
    if wrong:
        worker, version = sorted(wrong.items())[0]
        raise BatchConfigError(
            f"Dask worker {worker} of '{scheduler}' runs SegQualityReviewLib {version}, this run "
            f"{__version__}: install the same version on every worker"
        )


def _package_version() -> str:
    return __version__
