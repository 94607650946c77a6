"""A segmentation run in a separate process, checked before its output is accepted.

The worker writes into a private temporary folder; only when it exits cleanly, its label image lies on
the input's grid and the input files are byte-for-byte unchanged is the result moved to ``out``. A
crash, a hang past ``timeout_s``, cancellation or a wrong-geometry output each raise a clear error.

A ``medsam`` request carries its box prompt (``segmenters.box_prompts.MedSAMPrompt``): the job writes it
as the worker's prompt file in the private folder, and the run's record (the boxes used and LiteMedSAM's
predicted IoU per slice) comes back beside the output as ``<out>.medsam.json``.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import SimpleITK as sitk

from ..errors import GeometryMismatchError, InputFileError, SegQualityError
from ..io import Geometry, read_image
from ..segmenters.box_prompts import MedSAMPrompt
from ..segmenters.output import label_map_path_for, sidecar_path_for
from .progress_lines import ProcessEvent
from .runner import ProcessRunner, RunOutcome, RunState

CommandBuilder = Callable[[Path], Sequence[str]]
PROMPT_FILE = "medsam_prompt.json"
RECORD_ENDING = ".medsam.json"


class SegmentationProcessError(SegQualityError):
    """The segmentation process crashed, hung, was cancelled or wrote an unusable output."""


@dataclass(frozen=True)
class SegmentationRequest:
    """What to segment with what, and where the accepted result goes (``out`` plus ``<out>.labels.json``).

    ``prompt`` is the box prompt of a ``medsam`` run (instead of a prompt file as ``model_config``).
    """

    image: Path
    model: str
    out: Path
    model_config: Path | None = None
    device: str = "auto"
    prompt: MedSAMPrompt | None = None

    def worker_command(self, temporary_out: Path, *, python: str = sys.executable) -> list[str]:
        """The worker command line writing to ``temporary_out`` (a prompt is read from its folder)."""
        command = [python, "-m", "SegQualityReviewLib.process.worker", "--image", str(self.image)]
        command += ["--model", self.model, "--device", self.device, "--out", str(temporary_out)]
        config = Path(temporary_out).parent / PROMPT_FILE if self.prompt is not None else self.model_config
        if config is not None:
            command += ["--model-config", str(config)]
        return command

    @property
    def input_paths(self) -> tuple[Path, ...]:
        """Every file the run reads: the image, and the segment a prompt takes its boxes from."""
        return (Path(self.image),) + (self.prompt.source_files if self.prompt is not None else ())

    def check_prompt(self) -> None:
        """A prompt belongs to ``medsam`` alone, and replaces its prompt file."""
        if self.prompt is None:
            return
        if self.model != "medsam":
            raise SegmentationProcessError(
                f"model '{self.model}' takes no box prompt (--box, --box-ras, --boxes-from are for medsam)"
            )
        if self.model_config is not None:
            raise SegmentationProcessError(
                f"{self.model_config}: give the medsam prompt as options or as --model-config, not both"
            )
        for path in self.prompt.source_files:
            if not Path(path).is_file():
                raise InputFileError(f"{path}: file not found")


class SegmentationJob:
    """Non-blocking for a GUI (``start``, ``poll`` from a timer, ``cancel``, then ``finish``), or blocking (``run``).

    ``command_builder`` maps the temporary output path to the command to run; by default the worker
    with ``python`` (in Slicer pass the ``PythonSlicer`` executable). Tests inject other commands.
    """

    def __init__(
        self,
        request: SegmentationRequest,
        *,
        python: str = sys.executable,
        command_builder: CommandBuilder | None = None,
    ):
        self.request = request
        self._command_builder = command_builder or (lambda out: request.worker_command(out, python=python))
        self._workspace: Path | None = None
        self._runner: ProcessRunner | None = None
        self._input_fingerprint: dict[Path, str] = {}
        self._timeout_s: float | None = None

    @property
    def state(self) -> RunState:
        return RunState.IDLE if self._runner is None else self._runner.state

    def start(self) -> None:
        self.request.check_prompt()
        out = Path(self.request.out).resolve()
        if out == Path(self.request.image).resolve():
            raise SegmentationProcessError(f"{self.request.out}: the output would overwrite the input image")
        if any(out == path.resolve() for path in self.request.input_paths):
            raise SegmentationProcessError(
                f"{self.request.out}: the output would overwrite the prompt's segment"
            )
        self._input_fingerprint = self._fingerprint_inputs()
        self._workspace = Path(tempfile.mkdtemp(prefix="segquality-"))
        if self.request.prompt is not None:
            self.request.prompt.with_record(self._workspace / ("segmentation" + RECORD_ENDING)).write(
                self._workspace / PROMPT_FILE
            )
        self._runner = ProcessRunner(self._command_builder(self._temporary_out))
        self._runner.start()

    def poll(self) -> list[ProcessEvent]:
        """Progress and log events since the last call (call from a GUI timer)."""
        return self._runner.poll()

    def cancel(self) -> None:
        """Kill the worker and its whole process tree; ``finish`` then raises and cleans up."""
        self._runner.cancel()

    def wait(
        self, *, timeout_s: float | None = None, on_event: Callable[[ProcessEvent], None] | None = None
    ) -> RunOutcome:
        """Block until the worker ends, passing each event to ``on_event``; past ``timeout_s`` kill its tree."""
        self._timeout_s = timeout_s
        return self._runner.wait(timeout_s=timeout_s, on_event=on_event)

    def finish(self, *, timeout_s: float | None = None) -> Path:
        """Check the ended run and move its output to ``request.out``; raise ``SegmentationProcessError`` if unusable."""
        try:
            outcome = self.wait(timeout_s=timeout_s if timeout_s is not None else self._timeout_s)
            self._check_outcome(outcome)
            self._check_input_untouched()
            self._check_output_geometry()
            return self._accept_output()
        finally:
            shutil.rmtree(self._workspace, ignore_errors=True)

    def run(
        self, *, timeout_s: float | None = None, on_event: Callable[[ProcessEvent], None] | None = None
    ) -> Path:
        """Blocking: start, wait (streaming events to ``on_event``), check and accept; returns ``request.out``."""
        self.start()
        try:
            self.wait(timeout_s=timeout_s, on_event=on_event)
        except BaseException:
            self.cancel()
            shutil.rmtree(self._workspace, ignore_errors=True)
            raise
        return self.finish(timeout_s=timeout_s)

    @property
    def _temporary_out(self) -> Path:
        return self._workspace / "segmentation.nii.gz"

    def _check_outcome(self, outcome: RunOutcome) -> None:
        model = self.request.model
        if outcome.state is RunState.COMPLETED:
            return
        if outcome.state is RunState.CANCELLED:
            raise SegmentationProcessError(f"model '{model}' on {self.request.image}: cancelled")
        if outcome.state is RunState.TIMED_OUT:
            raise SegmentationProcessError(
                f"model '{model}' on {self.request.image}: no result after {self._timeout_s:g} s, process tree stopped"
            )
        if outcome.error_messages:
            raise SegmentationProcessError(
                f"model '{model}' on {self.request.image}: {outcome.error_messages[-1]}"
            )
        code = outcome.return_code
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        tail = " | ".join(line for line in outcome.last_lines[-3:] if line.strip())
        raise SegmentationProcessError(
            f"model '{model}' on {self.request.image}: the process {how}"
            + (f"; last output: {tail}" if tail else "")
        )

    def _fingerprint_inputs(self) -> dict[Path, str]:
        return {path: fingerprint(path) for path in self.request.input_paths}

    def _check_input_untouched(self) -> None:
        for path, digest in self._fingerprint_inputs().items():
            if digest != self._input_fingerprint[path]:
                raise SegmentationProcessError(f"{path}: the input changed while the model ran")

    def _check_output_geometry(self) -> None:
        out = self._temporary_out
        if not out.is_file() or not label_map_path_for(out).is_file():
            raise SegmentationProcessError(
                f"model '{self.request.model}' ended without writing a label image and its .labels.json"
            )
        output_geometry = _header_geometry(out)
        input_geometry = Geometry.from_sitk(read_image(self.request.image))
        found = output_geometry.differences(input_geometry)
        if found:
            raise GeometryMismatchError(
                f"model '{self.request.model}' wrote a segmentation that is not on the grid of "
                f"{self.request.image}: {'; '.join(found)}"
            )

    def _accept_output(self) -> Path:
        out = Path(self.request.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self._temporary_out), str(out))
        shutil.move(str(label_map_path_for(self._temporary_out)), str(label_map_path_for(out)))
        record = sidecar_path_for(self._temporary_out, RECORD_ENDING)
        if record.is_file():
            shutil.move(str(record), str(sidecar_path_for(out, RECORD_ENDING)))
        return out


def fingerprint(path: Path) -> str:
    """SHA-256 over a file, or over the names and contents of the files in a folder (a DICOM series)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _header_geometry(path: Path) -> Geometry:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    image = sitk.Image([1] * reader.GetDimension(), sitk.sitkUInt8)
    image.SetSpacing(reader.GetSpacing())
    image.SetOrigin(reader.GetOrigin())
    image.SetDirection(reader.GetDirection())
    geometry = Geometry.from_sitk(image)
    size = tuple(int(v) for v in reader.GetSize())
    return Geometry(
        size=size + (1,) * (3 - len(size)),
        spacing=geometry.spacing,
        origin=geometry.origin,
        direction=geometry.direction,
    )
