"""The .ui against the module file, by Slicer's rules: each bound widget can show its parameter (Slicer's
GUI-connector table), every widget, member and signal the code touches exists on that widget's class as
PythonQt exposes it, and the parameter node's annotations evaluate on this Python (Slicer evaluates them
when the module loads). These are the bugs that only show inside Slicer; here they fail a plain test."""

from __future__ import annotations

import ast
import pathlib
import typing
from collections import Counter

import pytest
from slicer_rules import module_source as source
from slicer_rules import qt_classes
from slicer_rules.connectors import ConnectorError, ParameterType, connector_for

TREE = source.module_tree()
WIDGETS = source.ui_widgets()
FIELDS = source.parameter_fields(TREE)


def _unbound_parameters() -> tuple[str, ...]:
    for node in TREE.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "UNBOUND_PARAMETERS":
            return tuple(ast.literal_eval(node.value))
    return ()


def _job_panel_widget_classes() -> dict[str, str]:
    from SegQualityReviewLib.review.job_panel import JobPanel

    return JobPanel.WIDGET_CLASSES


def test_connector_rules_refuse_what_slicer_refuses():
    # The encoded table itself: the two annotation rules and the exact-class match.
    with pytest.raises(ConnectorError, match="requires the Choice annotation"):
        connector_for("QComboBox", ParameterType("str"))
    assert connector_for("QComboBox", ParameterType("str", frozenset({"Choice"}))).name == (
        "QComboBoxToStringableConnector"
    )
    with pytest.raises(ConnectorError, match="unbounded"):
        connector_for("ctkSliderWidget", ParameterType("float"))
    assert connector_for("ctkSliderWidget", ParameterType("float", frozenset({"WithinRange"})))
    with pytest.raises(ConnectorError, match="Unable to create GUI connector"):
        connector_for("ctkComboBox", ParameterType("str", frozenset({"Choice"})))
    with pytest.raises(ConnectorError, match="Unable to create GUI connector"):
        connector_for("QLineEdit", ParameterType("path"))


def test_every_bound_widget_can_show_its_parameter_by_slicers_connector_rules():
    problems = []
    for widget in WIDGETS.values():
        if widget.parameter is None:
            continue
        if widget.parameter not in FIELDS:
            problems.append(f"{widget.name}: no parameter named '{widget.parameter}'")
            continue
        try:
            connector_for(widget.widget_class, FIELDS[widget.parameter])
        except ConnectorError as error:
            problems.append(f"{widget.name} ({widget.widget_class}) -> {widget.parameter}: {error}")
    assert problems == []


def test_every_parameter_is_bound_to_one_widget_or_declared_unbound():
    bound = Counter(w.parameter for w in WIDGETS.values() if w.parameter is not None)
    unbound = set(_unbound_parameters())
    assert [name for name, count in bound.items() if count > 1] == []
    assert unbound <= set(FIELDS) and unbound.isdisjoint(bound)
    assert set(bound) | unbound == set(FIELDS)


def test_every_widget_the_code_touches_exists_with_a_class_that_has_the_member():
    uses = source.ui_member_uses(TREE) + source.ui_alias_uses(TREE)
    assert len(uses) > 20, "the module touches almost no widget: the guard would prove nothing"
    problems = []
    for use in uses:
        if use.target not in WIDGETS:
            problems.append(f"line {use.line}: self.ui.{use.target} is not in the .ui")
            continue
        widget_class = WIDGETS[use.target].widget_class
        if use.member not in qt_classes.members_of(widget_class):
            problems.append(f"line {use.line}: {widget_class} {use.target} has no member '{use.member}'")
        if use.signal is not None and use.signal not in qt_classes.signals_of(widget_class):
            problems.append(f"line {use.line}: {widget_class} {use.target} has no signal {use.signal}")
    assert problems == []


def test_every_signal_connected_on_a_qt_object_the_code_makes_exists():
    made = source.constructed_qt_objects(TREE)
    assert {"QTimer", "QShortcut"} <= set(made.values())
    problems = []
    for target, signal, line in source.connect_calls(TREE):
        if target.startswith("self.ui."):
            continue  # checked with the .ui's classes above
        if target not in made:
            problems.append(f"line {line}: cannot tell the class of '{target}' connected to {signal}")
        elif signal not in qt_classes.signals_of(made[target]):
            problems.append(f"line {line}: {made[target]} has no signal {signal}")
    for node in ast.walk(TREE):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) in made:
            owner = made[ast.unparse(node.value)]
            if node.attr not in qt_classes.members_of(owner):
                problems.append(f"line {node.lineno}: {owner} has no member '{node.attr}'")
    assert problems == []


def test_the_uis_own_connections_join_existing_signals_and_slots():
    for sender, signal, receiver, slot in source.ui_connections():
        assert signal in qt_classes.signals_of(WIDGETS[sender].widget_class), (sender, signal)
        assert slot.split("(")[0] in qt_classes.members_of(WIDGETS[receiver].widget_class), (receiver, slot)


def test_every_property_the_ui_sets_is_one_the_class_has():
    # QUiLoader turns an unknown property into a dynamic one that does nothing (a misspelt "tracking").
    problems = [
        f"{w.name} ({w.widget_class}): {name}"
        for w in WIDGETS.values()
        for name in w.properties
        if name != "SlicerParameterName" and name not in qt_classes.members_of(w.widget_class)
    ]
    assert problems == []


def test_widgets_passed_on_have_the_class_their_receiver_expects():
    panel_classes = _job_panel_widget_classes()
    helpers = source.typed_helper_parameters(TREE)
    checked = set()
    problems = []
    for node in ast.walk(TREE):
        if not isinstance(node, ast.Call):
            continue
        called = ast.unparse(node.func).split(".")[-1]
        if called == "JobPanel":
            for keyword in node.keywords:
                if source._is_self_ui_widget(keyword.value):
                    name = keyword.value.attr
                    checked.add(name)
                    if not qt_classes.is_a(WIDGETS[name].widget_class, panel_classes[keyword.arg]):
                        problems.append(
                            f"JobPanel({keyword.arg}=self.ui.{name}): not a {panel_classes[keyword.arg]}"
                        )
        if any(function == called for function, _ in helpers):
            for index, argument in enumerate(node.args):
                if source._is_self_ui_widget(argument):
                    name = argument.attr
                    checked.add(name)
                    expected = _helper_parameter_class(called, index, helpers)
                    if expected is None or not qt_classes.is_a(WIDGETS[name].widget_class, expected):
                        problems.append(f"{called}(self.ui.{name}): not a {expected}")
    unchecked = {name for name, _ in source.bare_ui_references(TREE)} - checked
    assert problems == []
    assert unchecked == set(), (
        "pass widgets on only to a JobPanel or a helper whose parameter names its Qt class"
    )


def _helper_parameter_class(function: str, index: int, helpers: dict) -> str | None:
    for node in ast.walk(TREE):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            names = [a.arg for a in node.args.args if a.arg != "self"]
            return helpers.get((function, names[index])) if index < len(names) else None
    return None


def test_members_used_on_widgets_handed_to_helpers_and_job_panels_exist():
    problems = []
    for (function, parameter), widget_class in source.typed_helper_parameters(TREE).items():
        for node in ast.walk(TREE):
            if isinstance(node, ast.FunctionDef) and node.name == function:
                for use in ast.walk(node):
                    if isinstance(use, ast.Attribute) and ast.unparse(use.value) == parameter:
                        if use.attr not in qt_classes.members_of(widget_class):
                            problems.append(f"{function}: {widget_class} has no member '{use.attr}'")
    panel_file = source.LIB_FOLDER / "review" / "job_panel.py"
    for argument, widget_class in _job_panel_widget_classes().items():
        for use in ast.walk(ast.parse(panel_file.read_text(encoding="utf-8"))):
            if isinstance(use, ast.Attribute) and ast.unparse(use.value) == f"self._{argument}":
                if use.attr not in qt_classes.members_of(widget_class):
                    problems.append(f"JobPanel: {widget_class} has no member '{use.attr}'")
    assert problems == []


def test_parameter_node_annotations_evaluate_on_this_python():
    # Slicer's parameterNodeWrapper calls typing.get_type_hints on the class when the module loads:
    # an annotation this Python cannot evaluate (``X | None`` on Python 3.9) breaks the module there.
    cls = source.parameter_node_class(TREE)
    futures = [n for n in TREE.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    body = ast.Module(
        body=[*futures, ast.ClassDef(**{**cls.__dict__, "decorator_list": []})], type_ignores=[]
    )
    namespace: dict = {"Annotated": typing.Annotated, "Path": pathlib.Path, "Optional": typing.Optional}
    namespace["WithinRange"] = lambda low, high: ("WithinRange", low, high)
    for name in {n.id for n in ast.walk(cls) if isinstance(n, ast.Name) and n.id.startswith("vtkMRML")}:
        namespace[name] = type(name, (), {})
    code = compile(ast.fix_missing_locations(body), str(source.MODULE_FILE), "exec", dont_inherit=True)
    exec(code, namespace)
    hints = typing.get_type_hints(namespace[cls.name], globalns=namespace, include_extras=True)
    assert set(hints) == set(FIELDS)
