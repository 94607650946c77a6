"""MRML tier: a real MRML scene and application logic from the slicer-core wheel, kept alive all session.

slicer-core has the MRML libraries but no Slicer application: no ``slicer.mrmlScene``, no Qt, no
``slicer.ScriptedLoadableModule``. The session fixture creates the scene and the application logic,
registers the module logics the tests use, and sets ``slicer.mrmlScene``; dropping these objects while
nodes still refer to them crashes the process, so they are kept in a module-level list. To import the
module file, the GUI-only Slicer modules it names (the scripted-module base classes, i18n, the
parameter-node wrapper with Slicer's connector rules, qt, ctk) get the stand-ins of
``Testing/slicer_rules``; the Logic then runs on the real scene.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

slicer = pytest.importorskip(
    "slicer", reason="the slicer-core wheel is not installed (pip install slicer-core)"
)
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("the installed 'slicer' package has no MRML libraries", allow_module_level=True)

MODULE_FILE = Path(__file__).resolve().parents[2] / "SegQualityReview" / "SegQualityReview.py"
_KEEP_ALIVE: list = []


@pytest.fixture(scope="session")
def mrml_scene():
    """One real MRML scene with the application, segmentations, volumes and subject hierarchy logics."""
    from vtkmodules.vtkCommonCore import vtkCollection

    scene = slicer.vtkMRMLScene()
    application = slicer.vtkSlicerApplicationLogic()
    application.SetMRMLScene(scene)
    application.GetColorLogic().SetMRMLScene(scene)
    application.GetColorLogic().AddDefaultColorNodes()
    application.SetSliceLogics(vtkCollection())
    application.SetViewLogics(vtkCollection())
    _KEEP_ALIVE.extend([scene, application])
    for name, logic in (
        ("Segmentations", slicer.vtkSlicerSegmentationsModuleLogic()),
        ("Volumes", slicer.vtkSlicerVolumesLogic()),
        ("SubjectHierarchy", slicer.vtkSlicerSubjectHierarchyModuleLogic()),
    ):
        logic.SetMRMLScene(scene)
        logic.SetMRMLApplicationLogic(application)
        application.SetModuleLogic(name, logic)
        _KEEP_ALIVE.append(logic)
    slicer.mrmlScene = scene
    slicer.applicationLogic = application
    return scene


@pytest.fixture()
def scene(mrml_scene):
    """The session scene, emptied before and after the test."""
    mrml_scene.Clear(0)
    mrml_scene.SetURL("")
    yield mrml_scene
    mrml_scene.Clear(0)
    mrml_scene.SetURL("")


def save_scene(scene, folder: Path) -> Path:
    """Save the scene and its data files the way Slicer does; returns the .mrml path."""
    folder.mkdir(parents=True, exist_ok=True)
    assert slicer.applicationLogic.SaveSceneToSlicerDataBundleDirectory(str(folder), None)
    return next(folder.glob("*.mrml"))


def reload_scene(scene, mrml: Path) -> None:
    """Empty the scene and load a saved .mrml into it."""
    scene.Clear(0)
    scene.SetURL(str(mrml))
    assert scene.Connect() == 1


@pytest.fixture(scope="session")
def module(mrml_scene):
    """SegQualityReview.py imported with stand-ins for the GUI-only Slicer modules it names."""
    from slicer_rules.fake_slicer import install_module_stand_ins

    install_module_stand_ins()
    spec = importlib.util.spec_from_file_location("SegQualityReview", MODULE_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture()
def gui(scene, module, tmp_path):
    """Slicer's GUI functions replaced for one test; what the user would see is recorded on it."""
    from slicer_rules.fake_slicer import GuiSession

    with GuiSession(temporary_path=str(tmp_path / "slicer-temp")) as session:
        (tmp_path / "slicer-temp").mkdir()
        yield session


@pytest.fixture()
def widget(gui, module, scene):
    """The module's Widget built as Slicer builds it (setup on a module panel), cleaned up afterwards."""
    import qt

    parent = slicer.qMRMLWidget()
    parent.setLayout(qt.QVBoxLayout())
    parent.setMRMLScene(scene)
    built = module.SegQualityReviewWidget(parent)
    built.setup()
    yield built
    built.cleanup()


def poll_until_idle(widget, kind: str, *, timeout_s: float = 120.0) -> None:
    """Drive the Widget's timer slot until the job of ``kind`` has ended (the stand-in timer never fires)."""
    import time

    deadline = time.monotonic() + timeout_s
    while widget.isJobRunning(kind):
        assert time.monotonic() < deadline, f"the {kind} job did not end within {timeout_s} s"
        widget.onPollJobs()
        time.sleep(0.05)
