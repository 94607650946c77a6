"""A stand-in for Slicer's ``slicer.parameterNodeWrapper`` (Base/Python/slicer/parameterNodeWrapper), reduced to
what the module relies on, with ``connectGui`` applying Slicer's GUI-connector rules (``connectors``)."""

from __future__ import annotations

import enum
import pathlib
import typing
from typing import Any

import vtk

from . import fake_qt
from .connectors import ParameterType, connector_for

SLICER_PARAMETER_NAME = "SlicerParameterName"


class WithinRange:
    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum = minimum, maximum


class Minimum:
    def __init__(self, minimum: float) -> None:
        self.minimum = minimum


class Maximum:
    def __init__(self, maximum: float) -> None:
        self.maximum = maximum


class Choice:
    def __init__(self, choices: Any) -> None:
        self.choices = list(choices)


class Default:
    def __init__(self, value: Any) -> None:
        self.value = value


def parameter_type(hint: Any) -> tuple[ParameterType, type, list]:
    """A runtime type hint as the connectors classify it, with its bare type and its annotations."""
    extras: list = []
    if typing.get_origin(hint) is typing.Annotated:
        hint, *extras = typing.get_args(hint)
    names = frozenset(type(extra).__name__ for extra in extras)
    if hint is bool:
        kind = "bool"
    elif hint in (int, float, str):
        kind = hint.__name__
    elif isinstance(hint, type) and issubclass(hint, pathlib.PurePath):
        kind = "path"
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        kind = "enum"
    elif isinstance(hint, type) and hint.__name__.startswith("vtkMRML"):
        kind = "node"
    else:
        kind = "other"
    return ParameterType(kind=kind, annotations=names), hint, extras


def parameterNodeWrapper(classtype: type) -> type:
    """Slicer's decorator, reduced to what the module relies on: typed properties stored in the MRML
    parameter node (annotations evaluated at run time, as Slicer does), defaults written on first use,
    range validation, observer pass-through, and ``connectGui`` applying the GUI-connector rules."""
    hints = typing.get_type_hints(classtype, include_extras=True)
    fields = {}
    for name, hint in hints.items():
        classified, bare, extras = parameter_type(hint)
        kind = classified.kind
        default = getattr(classtype, name, None if kind == "node" else _empty(bare))
        fields[name] = (kind, bare, extras, default)

    def init(self, parameterNode) -> None:
        self.parameterNode = parameterNode
        self._guis = {}
        self._observers = {}
        self._nextTag = 0
        self._updatingGui = False
        for field_name, (kind, _, _, default) in fields.items():
            if not _is_in(parameterNode, field_name, kind):
                _write(parameterNode, field_name, kind, default)

    def make_property(field_name: str) -> property:
        kind, bare, extras, default = fields[field_name]

        def get(self):
            # As Slicer's: a parameter missing from the node (a scene close resets it) reads as its default.
            if kind != "node" and not _is_in(self.parameterNode, field_name, kind):
                _write(self.parameterNode, field_name, kind, default)
            return _read(self.parameterNode, field_name, kind, bare)

        def set_(self, value):
            for extra in extras:
                if isinstance(extra, WithinRange) and not extra.minimum <= value <= extra.maximum:
                    raise ValueError(f"{field_name}: {value} is outside [{extra.minimum}, {extra.maximum}]")
            _write(self.parameterNode, field_name, kind, value)

        return property(get, set_)

    def connect_gui(self, gui) -> int:
        widgets = {}
        for widget in vars(gui).values():
            if isinstance(widget, fake_qt.StandInObject) and widget.property(SLICER_PARAMETER_NAME):
                widgets[widget.property(SLICER_PARAMETER_NAME)] = widget
        unknown = sorted(set(widgets) - set(fields))
        if unknown:
            raise ValueError(f"Cannot find a param with the given name: {unknown[0]}")
        live = {}
        for field_name, widget in widgets.items():
            kind, bare, extras, _ = fields[field_name]
            connector = connector_for(widget.CLASS, parameter_type(hints[field_name])[0])
            live[field_name] = _LiveConnector(connector.name, widget, bare, extras)
        tag = self._nextTag
        self._nextTag += 1
        self._guis[tag] = live
        for field_name, connector in live.items():
            connector.write(getattr(self, field_name))
            connector.on_changed(lambda name=field_name, c=connector: _gui_to_parameter(self, name, c))
        # Slicer leaves this observer in place after disconnectGui (it then refreshes nothing); the stand-in
        # removes it, so widgets of earlier tests are never written to.
        self._observers[tag] = self.parameterNode.AddObserver(
            vtk.vtkCommand.ModifiedEvent, lambda caller, event: _parameter_to_gui(self)
        )
        return tag

    def disconnect_gui(self, tag: int) -> None:
        for connector in self._guis.pop(tag, {}).values():
            connector.on_changed(None)
        if tag in self._observers:
            self.parameterNode.RemoveObserver(self._observers.pop(tag))

    namespace = {
        "__init__": init,
        "connectGui": connect_gui,
        "disconnectGui": disconnect_gui,
        "allParameters": dict(fields),
        "StartModify": lambda self: self.parameterNode.StartModify(),
        "EndModify": lambda self, was: self.parameterNode.EndModify(was),
        "AddObserver": lambda self, event, callback, priority=0.0: self.parameterNode.AddObserver(
            event, callback, priority
        ),
        "RemoveObserver": lambda self, tag: self.parameterNode.RemoveObserver(tag),
        "Modified": lambda self: self.parameterNode.Modified(),
    }
    namespace.update({field_name: make_property(field_name) for field_name in fields})
    return type(classtype.__name__, (), namespace)


def _empty(bare: Any) -> Any:
    if isinstance(bare, type) and issubclass(bare, pathlib.PurePath):
        return bare()
    return bare() if bare in (bool, int, float, str) else None


def _is_in(node, name: str, kind: str) -> bool:
    if kind == "node":
        return node.GetNodeReferenceID(name) is not None
    return node.GetParameter(name) != ""


def _write(node, name: str, kind: str, value: Any) -> None:
    if kind == "node":
        node.SetNodeReferenceID(name, value.GetID() if value is not None else None)
    elif kind == "bool":
        node.SetParameter(name, "true" if value else "false")
    else:
        node.SetParameter(name, str(value) if kind != "float" else repr(float(value)))


def _read(node, name: str, kind: str, bare: Any) -> Any:
    if kind == "node":
        return node.GetNodeReference(name)
    text = node.GetParameter(name)
    if kind == "bool":
        return text == "true"
    return bare(text)


def _gui_to_parameter(wrapper, name: str, connector) -> None:
    if not wrapper._updatingGui:
        setattr(wrapper, name, connector.read())


def _parameter_to_gui(wrapper) -> None:
    if wrapper._updatingGui:
        return
    wrapper._updatingGui = True
    try:
        for live in wrapper._guis.values():
            for name, connector in live.items():
                connector.write(getattr(wrapper, name))
    finally:
        wrapper._updatingGui = False


class _LiveConnector:
    """One bound widget: the signal Slicer's connector listens to and how it reads and writes the value."""

    _SIGNALS = {
        "QCheckBoxToBoolConnector": "stateChanged(int)",
        "QDoubleSpinBoxCtkSliderWidgetToFloatConnector": "valueChanged(double)",
        "QComboBoxToStringableConnector": "currentIndexChanged(int)",
        "QLineEditToStrConnector": "textChanged(QString)",
        "ctkPathLineEditToPathConnector": "currentPathChanged(QString)",
        "ctkDirectoryButtonToPathConnector": "directoryChanged(QString)",
        "qMRMLNodeComboBoxToNodeConnector": "currentNodeChanged(vtkMRMLNode*)",
    }
    _PROPERTY = {
        "QCheckBoxToBoolConnector": "checked",
        "QDoubleSpinBoxCtkSliderWidgetToFloatConnector": "value",
        "QLineEditToStrConnector": "text",
        "ctkPathLineEditToPathConnector": "currentPath",
        "ctkDirectoryButtonToPathConnector": "directory",
    }

    def __init__(self, name: str, widget, bare: Any, extras: list) -> None:
        self.name, self.widget, self.bare = name, widget, bare
        self._callback = None
        self._choices = next((e.choices for e in extras if isinstance(e, Choice)), None)
        bounds = next((e for e in extras if isinstance(e, WithinRange)), None)
        if name == "QDoubleSpinBoxCtkSliderWidgetToFloatConnector" and bounds is not None:
            widget.minimum, widget.maximum = bounds.minimum, bounds.maximum
        if name == "QComboBoxToStringableConnector":
            # Slicer's connector empties the combo and fills it with the choices.
            widget.clear()
            for choice in self._choices:
                widget.addItem(str(choice))
        widget.connect(self._SIGNALS[name], self._changed)

    def _changed(self, *args) -> None:
        if self._callback is not None:
            self._callback()

    def on_changed(self, callback) -> None:
        self._callback = callback

    def read(self) -> Any:
        if self.name == "qMRMLNodeComboBoxToNodeConnector":
            return self.widget.currentNode()
        if self.name == "QComboBoxToStringableConnector":
            return self._choices[self.widget.currentIndex]
        value = getattr(self.widget, self._PROPERTY[self.name])
        return self.bare(value) if self.name.startswith("ctk") and "Path" in self.name else value

    def write(self, value: Any) -> None:
        if self.name == "qMRMLNodeComboBoxToNodeConnector":
            self.widget.setCurrentNode(value)
        elif self.name == "QComboBoxToStringableConnector":
            self.widget.currentIndex = self._choices.index(value)
        elif self.name.startswith("ctk") and "Path" in self.name:
            setattr(self.widget, self._PROPERTY[self.name], str(value))
        else:
            setattr(self.widget, self._PROPERTY[self.name], value)
