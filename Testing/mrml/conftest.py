"""MRML tier: a real MRML scene and application logic from the slicer-core wheel, kept alive all session.

slicer-core has the MRML libraries but no Slicer application: no ``slicer.mrmlScene``, no Qt, no
``slicer.ScriptedLoadableModule``. The session fixture creates the scene and the application logic,
registers the module logics the tests use, and sets ``slicer.mrmlScene``; dropping these objects while
nodes still refer to them crashes the process, so they are kept in a module-level list. To import the
module file, the GUI-only Slicer modules it names (the scripted-module base classes, i18n, the
parameter-node wrapper, qt, ctk) are given minimal stand-ins; the Logic then runs on the real scene.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import unittest
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
    _install_gui_stand_ins()
    spec = importlib.util.spec_from_file_location("SegQualityReview", MODULE_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _install_gui_stand_ins() -> None:
    def module_named(name, **members):
        stand_in = types.ModuleType(name)
        stand_in.__dict__.update(members)
        sys.modules.setdefault(name, stand_in)
        return sys.modules[name]

    class ScriptedLoadableModuleLogic:
        def __init__(self, parent=None):
            self.parent = parent

    class ScriptedLoadableModule:
        def __init__(self, parent):
            self.parent = parent

    class ScriptedLoadableModuleWidget:
        def __init__(self, parent=None):
            self.parent = parent

    class ScriptedLoadableModuleTest(unittest.TestCase):
        def delayDisplay(self, message, msec=0):
            print(message)

    scripted = module_named(
        "slicer.ScriptedLoadableModule",
        ScriptedLoadableModule=ScriptedLoadableModule,
        ScriptedLoadableModuleWidget=ScriptedLoadableModuleWidget,
        ScriptedLoadableModuleLogic=ScriptedLoadableModuleLogic,
        ScriptedLoadableModuleTest=ScriptedLoadableModuleTest,
    )
    scripted.__all__ = [n for n in vars(scripted) if n.startswith("Scripted")]
    module_named("slicer.i18n", tr=lambda text: text, translate=lambda context, text: text)
    module_named(
        "slicer.parameterNodeWrapper",
        parameterNodeWrapper=lambda cls: cls,
        WithinRange=lambda low, high: (low, high),
    )
    module_named("qt")
    module_named("ctk")
