"""The Logic's one dependency path: nothing happens when everything is installed; otherwise one question,
then torch through the PyTorch extension and the rest with slicer.packaging.pip_ensure (Slicer 5.12 on)
or slicer.util.pip_install (before), Slicer's own packages pinned. pip itself never runs here."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest

REAL_VERSION = importlib.metadata.version


@pytest.fixture()
def missing(monkeypatch):
    """Make psutil and torch look uninstalled until a (stand-in) install puts them back."""
    absent = {"psutil", "torch"}

    def version(name):
        if name.lower() in absent:
            raise importlib.metadata.PackageNotFoundError(name)
        return REAL_VERSION(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    return absent


@pytest.fixture()
def pytorch_extension(monkeypatch, missing):
    calls = []

    class PyTorchUtilsLogic:
        def installTorch(self, askConfirmation=True, **options):
            calls.append(askConfirmation)
            missing.discard("torch")
            return types.ModuleType("torch")

    monkeypatch.setitem(
        sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=PyTorchUtilsLogic)
    )
    return calls


def test_nothing_is_asked_or_installed_when_everything_is_there(gui, module):
    assert module.SegQualityReviewLogic().ensureDependencies() is True
    assert gui.questions == [] and gui.pip_installs == []


def test_declining_installs_nothing_and_says_which_packages_were_needed(gui, module, missing):
    gui.confirm = False
    assert module.SegQualityReviewLogic().ensureDependencies() is False
    assert len(gui.questions) == 1 and "psutil" in gui.questions[0] and "torch" in gui.questions[0]
    assert gui.pip_installs == []


def test_before_slicer_5_12_pip_install_gets_the_missing_requirements_with_slicers_pins(
    gui, module, missing, pytorch_extension
):
    recorded = gui.pip_installs

    def install(arguments):
        recorded.append(arguments)
        missing.discard("psutil")

    import slicer

    slicer.util.pip_install = install  # restored by the gui fixture
    assert module.SegQualityReviewLogic().ensureDependencies(askUser=False) is True
    assert gui.questions == [] and pytorch_extension == [False]
    (arguments,) = gui.pip_installs
    assert arguments[0] == "psutil>=5.9" and arguments[1] == "-c"
    pins = open(arguments[2], encoding="utf-8").read().split()
    assert f"numpy=={REAL_VERSION('numpy')}" in pins and f"scipy=={REAL_VERSION('scipy')}" in pins


def test_from_slicer_5_12_pip_ensure_installs_without_asking_again_even_in_testing_mode(
    gui, module, missing, pytorch_extension, monkeypatch
):
    calls = []

    def pip_ensure(requirements, **options):
        calls.append((requirements, options))
        missing.discard("psutil")

    monkeypatch.setitem(sys.modules, "slicer.packaging", types.SimpleNamespace(pip_ensure=pip_ensure))
    assert module.SegQualityReviewLogic().ensureDependencies() is True
    assert len(gui.questions) == 1 and gui.pip_installs == []
    ((requirements, options),) = calls
    assert requirements == ["psutil>=5.9"]
    assert options["prompt_install"] is False and options["skip_in_testing"] is False
    assert options["constraints"].endswith("SegQualityReview-constraints.txt")
