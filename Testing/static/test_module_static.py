"""Static guards on the Slicer module: widgets the Python touches exist in the .ui, every parameter is bound,
the module CMakeLists lists every script and resource present, and the module file imports nothing heavy."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

MODULE_FOLDER = Path(__file__).resolve().parents[2] / "SegQualityReview"
MODULE_FILE = MODULE_FOLDER / "SegQualityReview.py"
UI_FILE = MODULE_FOLDER / "Resources" / "UI" / "SegQualityReview.ui"
CMAKE_FILE = MODULE_FOLDER / "CMakeLists.txt"
# What the module file may import when Slicer loads it; everything else is imported inside methods.
LIGHT_IMPORTS = {
    "logging",
    "os",
    "shutil",
    "sys",
    "tempfile",
    "dataclasses",
    "pathlib",
    "typing",
    "vtk",
    "qt",
    "ctk",
    "slicer",
}
NOT_PACKAGED = {"__pycache__", ".pytest_cache"}


def _ui_widget_names() -> set[str]:
    return {element.get("name") for element in ElementTree.parse(UI_FILE).iter("widget")}


def _module_tree() -> ast.Module:
    return ast.parse(MODULE_FILE.read_text(encoding="utf-8"))


def test_every_widget_the_module_touches_exists_in_the_ui():
    used = set(re.findall(r"self\.ui\.(\w+)", MODULE_FILE.read_text(encoding="utf-8")))
    assert used, "the module touches no widget: the guard would prove nothing"
    assert used - _ui_widget_names() == set()


def test_every_parameter_is_bound_to_exactly_one_widget():
    tree = _module_tree()
    wrapper = next(
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SegQualityReviewParameterNode"
    )
    fields = {n.target.id for n in wrapper.body if isinstance(n, ast.AnnAssign)}
    bound = [
        prop.find("string").text
        for prop in ElementTree.parse(UI_FILE).iter("property")
        if prop.get("name") == "SlicerParameterName"
    ]
    assert sorted(bound) == sorted(fields)


def test_module_file_imports_nothing_heavy_at_load_time():
    heavy = []
    for node in _module_tree().body:
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
        n.name: [ast.unparse(b) for b in n.bases] for n in _module_tree().body if isinstance(n, ast.ClassDef)
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


def test_module_cmakelists_lists_every_script_and_resource_present():
    assert CMAKE_FILE.is_file(), (
        f"{CMAKE_FILE} is missing: the lead writes it (scripts and resources listed by name)"
    )
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
