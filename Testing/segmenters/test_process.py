"""Out-of-process runs: progress streaming, tree kill on cancel, timeouts, crashes, bad outputs, the real worker."""

from __future__ import annotations

import shutil
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from SegQualityReviewLib.errors import GeometryMismatchError
from SegQualityReviewLib.io import read_image
from SegQualityReviewLib.process import (
    ProcessRunner,
    RunState,
    SegmentationJob,
    SegmentationProcessError,
    SegmentationRequest,
)
from SegQualityReviewLib.process.segment_job import fingerprint
from SegQualityReviewLib.segmenters import read_segmentation


def python_command(code: str, *arguments: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *arguments]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture()
def ct_sm_copy(shared_data, tmp_path):
    """A private copy of the small CT, so a test may check (or even damage) the input safely."""
    copy = tmp_path / "input" / "ct_sm.nii.gz"
    copy.parent.mkdir()
    shutil.copy(shared_data / "totalsegmentator/ct_sm/image.nii.gz", copy)
    return copy


def test_progress_lines_stream_through_poll_in_order():
    runner = ProcessRunner(
        python_command(
            """
            print("PROGRESS 0.25 loading", flush=True)
            print("a log line", flush=True)
            print("PROGRESS 1 done", flush=True)
            """
        )
    )
    runner.start()
    events = []
    deadline = time.monotonic() + 30
    while runner.state is RunState.RUNNING and time.monotonic() < deadline:
        events += runner.poll()
        time.sleep(0.02)
    events += runner.poll()
    assert runner.state is RunState.COMPLETED
    assert [(e.kind, e.fraction, e.message) for e in events] == [
        ("progress", 0.25, "loading"),
        ("log", None, "a log line"),
        ("progress", 1.0, "done"),
    ]


def test_cancel_kills_the_whole_process_tree():
    runner = ProcessRunner(
        python_command(
            """
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            print("CHILD", child.pid, flush=True)
            time.sleep(120)
            """
        )
    )
    runner.start()
    child_pid = None
    deadline = time.monotonic() + 30
    while child_pid is None and time.monotonic() < deadline:
        for event in runner.poll():
            if event.message.startswith("CHILD"):
                child_pid = int(event.message.split()[1])
        time.sleep(0.02)
    assert child_pid is not None and not gone(child_pid)
    runner.cancel()
    assert runner.state is RunState.CANCELLED
    assert gone(runner.pid) and gone(child_pid)


def test_a_hanging_model_is_stopped_at_the_timeout_and_nothing_is_written(ct_sm_copy, tmp_path):
    request = SegmentationRequest(image=ct_sm_copy, model="hangs", out=tmp_path / "out/S.nii.gz")
    job = SegmentationJob(request, command_builder=lambda out: python_command("import time; time.sleep(120)"))
    started = time.monotonic()
    with pytest.raises(
        SegmentationProcessError, match=r"model 'hangs' .*no result after 1 s, process tree stopped"
    ):
        job.run(timeout_s=1.0)
    assert time.monotonic() - started < 20
    assert not request.out.exists()


def test_a_crashing_model_reports_the_signal_and_its_last_output(ct_sm_copy, tmp_path):
    request = SegmentationRequest(image=ct_sm_copy, model="crashes", out=tmp_path / "S.nii.gz")
    crash = python_command("import os; print('allocating', flush=True); os.abort()")
    with pytest.raises(SegmentationProcessError, match=r"killed by signal 6; last output: allocating"):
        SegmentationJob(request, command_builder=lambda out: crash).run(timeout_s=30)


def test_an_error_line_from_the_worker_becomes_the_message(ct_sm_copy, tmp_path):
    request = SegmentationRequest(image=ct_sm_copy, model="fails", out=tmp_path / "S.nii.gz")
    failing = python_command(
        "import sys; print('ERROR weights for fold 0 are missing', flush=True); sys.exit(2)"
    )
    with pytest.raises(SegmentationProcessError, match="weights for fold 0 are missing"):
        SegmentationJob(request, command_builder=lambda out: failing).run(timeout_s=30)


def test_an_output_on_the_wrong_grid_is_refused_and_not_moved_to_out(ct_sm_copy, tmp_path):
    request = SegmentationRequest(image=ct_sm_copy, model="half-resolution", out=tmp_path / "S.nii.gz")
    wrong_grid = python_command(
        """
        import sys, json, SimpleITK as sitk
        out = sys.argv[1]
        image = sitk.Image([61, 51, 15], sitk.sitkUInt8)
        image.SetSpacing((6.0, 6.0, 6.0))
        sitk.WriteImage(image, out)
        open(out.replace(".nii.gz", ".labels.json"), "w").write(json.dumps({"labels": {"1": "liver"}}))
        """,
    )
    job = SegmentationJob(request, command_builder=lambda out: wrong_grid + [str(out)])
    with pytest.raises(
        GeometryMismatchError, match=r"model 'half-resolution' wrote a segmentation .* size \(61, 51, 15\)"
    ):
        job.run(timeout_s=30)
    assert not request.out.exists()


def test_a_model_that_modifies_its_input_is_caught(ct_sm_copy, tmp_path):
    request = SegmentationRequest(image=ct_sm_copy, model="vandal", out=tmp_path / "S.nii.gz")
    vandal = python_command("import sys; open(sys.argv[1], 'ab').write(b'x')", str(ct_sm_copy))
    with pytest.raises(SegmentationProcessError, match="the input changed while the model ran"):
        SegmentationJob(request, command_builder=lambda out: vandal).run(timeout_s=30)


def test_the_real_worker_segments_a_ct_and_leaves_the_input_untouched(ct_sm_copy, tmp_path):
    before = fingerprint(ct_sm_copy)
    request = SegmentationRequest(
        image=ct_sm_copy, model="classical-ct", out=tmp_path / "out/S.nii.gz", device="cpu"
    )
    events = []
    out = SegmentationJob(request).run(timeout_s=120, on_event=events.append)
    assert out == request.out and (tmp_path / "out/S.labels.json").is_file()
    progress = [e.fraction for e in events if e.kind == "progress"]
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    structures = read_segmentation(out, reference=read_volume_geometry(ct_sm_copy))
    assert structures.names == ("lung_left", "lung_right", "trachea", "bones")
    assert structures.mask("lung_right").sum() > 1000
    assert fingerprint(ct_sm_copy) == before
    assert sorted(p.name for p in ct_sm_copy.parent.iterdir()) == ["ct_sm.nii.gz"]


def read_volume_geometry(path: Path):
    from SegQualityReviewLib.io import Geometry

    return Geometry.from_sitk(read_image(path))


def test_the_gui_path_polls_then_cancels_and_finish_reports_it(ct_sm_copy, tmp_path):
    request = SegmentationRequest(image=ct_sm_copy, model="slow", out=tmp_path / "S.nii.gz")
    slow = python_command("import time\nprint('PROGRESS 0.1 started', flush=True)\ntime.sleep(120)")
    job = SegmentationJob(request, command_builder=lambda out: slow)
    assert job.state is RunState.IDLE
    job.start()
    seen = []
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        seen += [e for e in job.poll() if e.kind == "progress"]
        time.sleep(0.02)
    assert job.state is RunState.RUNNING and seen[0].fraction == 0.1
    job.cancel()
    with pytest.raises(SegmentationProcessError, match="cancelled"):
        job.finish()
    assert job.state is RunState.CANCELLED and not request.out.exists()


def test_an_output_path_equal_to_the_input_is_refused_before_anything_runs(ct_sm_copy):
    before = fingerprint(ct_sm_copy)
    request = SegmentationRequest(image=ct_sm_copy, model="classical-ct", out=ct_sm_copy)
    with pytest.raises(SegmentationProcessError, match="would overwrite the input image"):
        SegmentationJob(request).run(timeout_s=30)
    assert fingerprint(ct_sm_copy) == before
