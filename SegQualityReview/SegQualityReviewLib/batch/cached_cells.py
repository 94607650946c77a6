"""Run cells through the per-cell cache and an executor: what the metric cells and the predicted-quality
cells of a comparison share.

Cached cells are taken as they are; the rest run on the executor, and each result is written to the cache
the moment it arrives, so a killed run resumes where it stopped, on any executor.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Mapping, Sequence, TypeVar

from tqdm import tqdm

from .cache import ScoreCache
from .executors import CellExecutor, LocalExecutor

Task = TypeVar("Task")
Result = TypeVar("Result")
# Called with (fraction done, message) as cells finish: the Slicer Batch tab's progress bar.
ProgressCallback = Callable[[float, str], None]


def run_cached(
    function: Callable[[Task], Result],
    tasks: Sequence[Task],
    keys: Sequence[str],
    cache: ScoreCache,
    *,
    stored: Callable[[Result], Mapping[str, Any]],
    restored: Callable[[Task, Mapping[str, Any]], Result],
    label: Callable[[Task], str],
    activity: str,
    verb: str,
    executor: CellExecutor | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> list[Result]:
    """``function(task)`` for every task whose key is not cached, in task order.

    ``stored(result)`` is what the cache keeps and ``restored(task, content)`` rebuilds a result from it.
    ``progress`` shows a tqdm bar on stderr ("<activity> on <executor>"); ``on_progress`` gets the
    fraction done and "<verb> n/N cells" before the first cell and after each.
    """
    executor = executor or LocalExecutor(workers=1)
    results: dict[int, Result] = {}
    pending = []
    for index, (task, key) in enumerate(zip(tasks, keys)):
        cached = cache.get(key)
        if cached is None:
            pending.append(index)
        else:
            results[index] = restored(task, cached)
    bar = tqdm(
        total=len(tasks),
        initial=len(results),
        desc=f"{activity} on {executor.description}",
        unit="cell",
        file=sys.stderr,
        disable=not progress,
    )

    def report() -> None:
        if on_progress is not None and tasks:
            on_progress(len(results) / len(tasks), f"{verb} {len(results)}/{len(tasks)} cells")

    report()
    try:
        chosen = [tasks[index] for index in pending]
        for position, result in executor.run(function, chosen, label=label):
            index = pending[position]
            cache.put(keys[index], stored(result))
            results[index] = result
            bar.update(1)
            report()
    finally:
        bar.close()
    return [results[index] for index in range(len(tasks))]
