"""Static guards on the Slicer module and the extension: the module file imports nothing heavy, follows the
scripted-module template, the module CMakeLists lists every file (Slicer packages only listed files),
every module file compiles on this Python, and the extension meets the Extensions Index conventions."""

from __future__ import annotations

import ast
import json
import re

import pytest
from slicer_rules.module_source import LIB_FOLDER, MODULE_FILE, MODULE_FOLDER, REPO_ROOT, module_tree

CMAKE_FILE = MODULE_FOLDER / "CMakeLists.txt"
# What the module file may import when Slicer loads it; everything else is imported inside methods.
LIGHT_IMPORTS = {
    "logging",
    "os",
    "shutil",
    "sys",
    "tempfile",
    "weakref",
    "dataclasses",
    "pathlib",
    "typing",
    "vtk",
    "qt",
    "ctk",
    "slicer",
}
NOT_PACKAGED = {"__pycache__", ".pytest_cache"}
SCM_URL = "https://github.com/SegQualityReview/SlicerSegQualityReview"


def test_module_file_imports_nothing_heavy_at_load_time():
    heavy = []
    for node in module_tree().body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in (
            ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)) else ()
        ):
            if isinstance(child, ast.Import):
                heavy += [a.name for a in child.names if a.name.split(".")[0] not in LIGHT_IMPORTS]
            elif (
                isinstance(child, ast.ImportFrom) and (child.module or "").split(".")[0] not in LIGHT_IMPORTS
            ):
                heavy.append(child.module)
    assert heavy == []


def test_module_template_classes_are_all_there():
    classes = {
        n.name: [ast.unparse(b) for b in n.bases] for n in module_tree().body if isinstance(n, ast.ClassDef)
    }
    assert classes["SegQualityReview"] == ["ScriptedLoadableModule"]
    assert classes["SegQualityReviewWidget"] == ["ScriptedLoadableModuleWidget", "VTKObservationMixin"]
    assert classes["SegQualityReviewLogic"] == ["ScriptedLoadableModuleLogic"]
    assert classes["SegQualityReviewTest"] == ["ScriptedLoadableModuleTest"]


def test_requirements_never_name_what_slicer_ships():
    lines = (MODULE_FOLDER / "Resources" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    names = {
        re.split(r"[<>=!~\[; ]", line.strip())[0].lower()
        for line in lines
        if line.strip() and not line.startswith("#")
    }
    assert names and names.isdisjoint({"numpy", "scipy", "simpleitk", "vtk", "torch"})


@pytest.mark.parametrize(
    "path",
    sorted([MODULE_FILE, *LIB_FOLDER.rglob("*.py")]),
    ids=lambda p: p.relative_to(MODULE_FOLDER).as_posix(),
)
def test_every_module_file_compiles_on_this_python(path):
    # The Slicer-Python tiers run this on Python 3.9 (Slicer 5.6/5.8) and 3.12 (5.10/5.12).
    compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)


def test_module_cmakelists_lists_every_script_and_resource_present():
    listed = _cmake_lists(CMAKE_FILE.read_text(encoding="utf-8"))
    present_scripts, present_resources = set(), set()
    for path in MODULE_FOLDER.rglob("*"):
        relative = path.relative_to(MODULE_FOLDER)
        top = relative.parts[0]
        if not path.is_file() or NOT_PACKAGED & set(relative.parts) or path.suffix == ".pyc":
            continue
        if relative.as_posix() == "SegQualityReview.py" or top == "SegQualityReviewLib":
            (present_scripts if path.suffix == ".py" else present_resources).add(relative.as_posix())
        elif top == "Resources":
            present_resources.add(relative.as_posix())
    assert sorted(present_scripts - listed["MODULE_PYTHON_SCRIPTS"]) == []
    assert sorted(listed["MODULE_PYTHON_SCRIPTS"] - present_scripts) == []
    assert sorted(present_resources - listed["MODULE_PYTHON_RESOURCES"]) == []
    assert sorted(listed["MODULE_PYTHON_RESOURCES"] - present_resources) == []


def test_extension_metadata_follows_the_extensions_index_conventions():
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    index = json.loads((REPO_ROOT / "docs" / "SegQualityReview.json").read_text(encoding="utf-8"))
    # The index asks for a repository named Slicer<Name>, used the same way everywhere.
    assert index["scm_url"] == SCM_URL + ".git"
    urls = re.findall(r"https://[^\s\"]+", cmake)
    assert urls and all("/SegQualityReview/SlicerSegQualityReview" in url for url in urls), urls
    contributors = re.search(r'set\(EXTENSION_CONTRIBUTORS "([^"]+)"\)', cmake).group(1)
    assert all(re.fullmatch(r"[^()]+ \([^()]+\)", name.strip()) for name in contributors.split(","))
    assert index["build_dependencies"] == ["PyTorch"] and 'EXTENSION_DEPENDS "PyTorch"' in cmake
    assert (REPO_ROOT / "LICENSE.txt").is_file() and not (REPO_ROOT / "LICENSE").exists()


def test_module_texts_point_at_files_the_repository_has():
    module_text = MODULE_FILE.read_text(encoding="utf-8")
    for name in re.findall(r"\b((?:docs/[\w.-]+\.md)|(?:LICENSE\.txt))\b", module_text):
        assert (REPO_ROOT / name).is_file(), f"the module names {name}, which the repository lacks"
    assert re.search(r'REPOSITORY_URL = "' + re.escape(SCM_URL) + '"', module_text)
    assert "SegQualityReview team (SegQualityReview)" in module_text


def _cmake_lists(text: str) -> dict[str, set[str]]:
    """The file names of set(MODULE_PYTHON_SCRIPTS ...) and set(MODULE_PYTHON_RESOURCES ...), with
    ${MODULE_NAME} expanded."""
    text = re.sub(r"#[^\n]*", "", text)
    module_name = re.search(r"set\(\s*MODULE_NAME\s+(\S+?)\s*\)", text)
    found = {}
    for variable in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
        match = re.search(rf"set\(\s*{variable}\s+(.*?)\)", text, flags=re.S)
        entries = match.group(1).split() if match else []
        if module_name:
            entries = [e.replace("${MODULE_NAME}", module_name.group(1)) for e in entries]
        found[variable] = {e.strip('"') for e in entries}
    return found
