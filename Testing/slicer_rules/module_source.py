"""What the module file and its .ui declare, read statically (AST and XML): parameter-node fields and their
types, the .ui's widgets and bindings, and every widget member, signal and Qt object the code touches."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from . import qt_classes
from .connectors import PATH_TYPES, ParameterType

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE_FOLDER = REPO_ROOT / "SegQualityReview"
MODULE_FILE = MODULE_FOLDER / "SegQualityReview.py"
UI_FILE = MODULE_FOLDER / "Resources" / "UI" / "SegQualityReview.ui"
LIB_FOLDER = MODULE_FOLDER / "SegQualityReviewLib"

# Python-side names of the Qt modules the module file imports them from.
QT_MODULES = ("qt", "ctk", "slicer")


@dataclass(frozen=True)
class UiWidget:
    name: str
    widget_class: str
    parameter: str | None  # its SlicerParameterName, if bound
    properties: dict


@dataclass(frozen=True)
class Use:
    """``target.member`` (``signal`` set when the use is ``target.connect("signal", ...)``) at ``line``."""

    target: str
    member: str
    line: int
    signal: str | None = None


def module_tree() -> ast.Module:
    return ast.parse(MODULE_FILE.read_text(encoding="utf-8"))


def ui_widgets(ui_file: Path = UI_FILE) -> dict[str, UiWidget]:
    """Every named widget of the .ui with its class, SlicerParameterName and simple properties."""
    widgets = {}
    for element in ElementTree.parse(ui_file).iter("widget"):
        properties = {}
        for prop in element.findall("property"):
            value = next(iter(prop), None)
            properties[prop.get("name")] = None if value is None else (value.text or "")
        widgets[element.get("name")] = UiWidget(
            name=element.get("name"),
            widget_class=element.get("class"),
            parameter=properties.get("SlicerParameterName"),
            properties=properties,
        )
    return widgets


def ui_connections(ui_file: Path = UI_FILE) -> list[tuple[str, str, str, str]]:
    """The .ui's own signal/slot connections as (sender, signal, receiver, slot)."""
    return [
        tuple(connection.findtext(tag) for tag in ("sender", "signal", "receiver", "slot"))
        for connection in ElementTree.parse(ui_file).iter("connection")
    ]


def parameter_node_class(tree: ast.Module) -> ast.ClassDef:
    """The class decorated with ``@parameterNodeWrapper``."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            ast.unparse(d) == "parameterNodeWrapper" for d in node.decorator_list
        ):
            return node
    raise AssertionError("the module file has no @parameterNodeWrapper class")


def parameter_fields(tree: ast.Module) -> dict[str, ParameterType]:
    """Each field of the parameter-node class with its type as Slicer's connectors classify it."""
    fields = {}
    for statement in parameter_node_class(tree).body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            fields[statement.target.id] = classify_annotation(statement.annotation)
    return fields


def classify_annotation(annotation: ast.expr) -> ParameterType:
    """``Annotated[float, WithinRange(0, 1)]`` -> float with WithinRange; ``vtkMRMLScalarVolumeNode`` -> node."""
    extras: frozenset[str] = frozenset()
    if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) in (
        "Annotated",
        "typing.Annotated",
    ):
        parts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        annotation = parts[0]
        extras = frozenset(ast.unparse(p.func).split(".")[-1] for p in parts[1:] if isinstance(p, ast.Call))
    name = ast.unparse(annotation).split(".")[-1]
    if name in ("bool", "int", "float", "str"):
        kind = name
    elif name in PATH_TYPES:
        kind = "path"
    elif name.startswith("vtkMRML"):
        kind = "node"
    else:
        kind = "other"
    return ParameterType(kind=kind, annotations=extras)


def ui_member_uses(tree: ast.AST) -> list[Use]:
    """Every ``self.ui.<widget>.<member>`` in the code (``connect`` uses carry their signal)."""
    uses = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _is_self_ui_widget(node.value)):
            continue
        uses.append(Use(target=node.value.attr, member=node.attr, line=node.lineno))
    return [_with_signal(use, tree) for use in uses]


def ui_alias_uses(tree: ast.AST) -> list[Use]:
    """Members used through a local alias (``table = self.ui.resultsTable`` then ``table.setRowCount``),
    within the function that makes the alias."""
    uses = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        aliases = {
            node.targets[0].id: node.value.attr for node in ast.walk(function) if _is_alias_assignment(node)
        }
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                uses.append(Use(target=aliases[node.value.id], member=node.attr, line=node.lineno))
    return uses


def bare_ui_references(tree: ast.AST) -> list[tuple[str, int]]:
    """``self.ui.<widget>`` used without a member and not as a local alias (passed on, stored):
    (widget, line)."""
    with_member = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    aliased = {id(node.value) for node in ast.walk(tree) if _is_alias_assignment(node)}
    return [
        (node.attr, node.lineno)
        for node in ast.walk(tree)
        if _is_self_ui_widget(node) and id(node) not in with_member | aliased
    ]


def _is_alias_assignment(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and _is_self_ui_widget(node.value)
    )


def connect_calls(tree: ast.AST) -> list[tuple[str, str, int]]:
    """Every ``<target>.connect("signal(...)", slot)``: (target source text, signal, line)."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "connect"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((ast.unparse(node.func.value), node.args[0].value, node.lineno))
    return found


def constructed_qt_objects(tree: ast.AST) -> dict[str, str]:
    """Targets assigned a new Qt object (``self._timer = qt.QTimer()``): target text -> class name."""
    made = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            called = ast.unparse(node.value.func)
            module, _, name = called.rpartition(".")
            if module in QT_MODULES and name in qt_classes.CLASSES:
                for target in node.targets:
                    made[ast.unparse(target)] = name
    return made


def typed_helper_parameters(tree: ast.AST) -> dict[tuple[str, str], str]:
    """Function parameters annotated with a Qt class (``table: "qt.QTableWidget"``): (function, parameter)
    -> class name, so the members used on them and the widgets passed to them can be checked."""
    typed = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for argument in node.args.args + node.args.kwonlyargs:
                if argument.annotation is None:
                    continue
                text = ast.unparse(argument.annotation).strip("'\"")
                module, _, name = text.rpartition(".")
                if module in QT_MODULES:
                    typed[(node.name, argument.arg)] = name
    return typed


def _is_self_ui_widget(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "ui"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "self"
    )


def _with_signal(use: Use, tree: ast.AST) -> Use:
    if use.member != "connect":
        return use
    for target, signal, line in connect_calls(tree):
        if line == use.line and target == f"self.ui.{use.target}":
            return Use(target=use.target, member=use.member, line=use.line, signal=signal)
    return use
