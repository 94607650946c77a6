"""The ``qt`` and ``ctk`` stand-in modules and a .ui loader that builds the widget tree from the stand-ins."""

from __future__ import annotations

import types
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from . import fake_qt, fake_widgets
from .fake_qt import StandInObject

QT_NAMES = (
    "QWidget", "QPushButton", "QCheckBox", "QLabel", "QLineEdit", "QProgressBar", "QTabWidget", "QComboBox",
    "QTableWidget", "QTableWidgetItem", "QTimer", "QShortcut", "QKeySequence", "QColor", "QBrush", "QUrl",
    "QDesktopServices", "Qt",
)  # fmt: skip
CTK_NAMES = ("ctkPathLineEdit", "ctkDirectoryButton", "ctkSliderWidget")


def _stand_in(name: str) -> Any:
    return getattr(fake_qt, name, None) or getattr(fake_widgets, name)


# The .ui's widget classes by name.
WIDGETS = {
    cls.CLASS: cls
    for cls in map(_stand_in, QT_NAMES + CTK_NAMES + ("qMRMLWidget", "qMRMLNodeComboBox"))
    if isinstance(cls, type) and issubclass(cls, fake_qt.QWidget)
}


def qt_module() -> types.ModuleType:
    module = types.ModuleType("qt")
    for name in QT_NAMES:
        setattr(module, name, _stand_in(name))
    module.QVBoxLayout = module.QHBoxLayout = module.QFormLayout = fake_qt.QLayout
    return module


def ctk_module() -> types.ModuleType:
    module = types.ModuleType("ctk")
    for name in CTK_NAMES:
        setattr(module, name, _stand_in(name))
    return module


def load_ui(path: str | Path) -> fake_qt.QWidget:
    """The widget tree of a .ui file: classes from the table, properties set as QUiLoader sets them
    (``stdset="0"`` ones as dynamic properties), and the .ui's own signal-slot connections made."""
    root = ElementTree.parse(path).getroot()
    by_name: dict[str, StandInObject] = {}

    def build(element: ElementTree.Element, parent: StandInObject | None) -> StandInObject:
        widget = WIDGETS[element.get("class")]()
        widget.objectName = element.get("name")
        by_name[element.get("name")] = widget
        if parent is not None:
            widget.setParent(parent)
        for prop in element.findall("property"):
            value = _ui_value(next(iter(prop), None))
            if prop.get("stdset") == "0":
                widget.setProperty(prop.get("name"), value)
            else:
                setattr(widget, prop.get("name"), value)
        for child in element.iter("widget"):
            if child is not element and _nearest_widget_parent(element, child):
                build(child, widget)
        return widget

    top = build(root.find("widget"), None)
    for connection in root.iter("connection"):
        sender = by_name[connection.findtext("sender")]
        receiver = by_name[connection.findtext("receiver")]
        slot = connection.findtext("slot").split("(")[0]
        sender.connect(connection.findtext("signal"), getattr(receiver, slot))
    return top


def _nearest_widget_parent(ancestor: ElementTree.Element, child: ElementTree.Element) -> bool:
    """Whether ``ancestor`` is the closest <widget> above ``child`` (layouts and items in between)."""

    def search(element: ElementTree.Element) -> bool:
        for sub in element:
            if sub is child:
                return True
            if sub.tag != "widget" and search(sub):
                return True
        return False

    return search(ancestor)


def _ui_value(value: ElementTree.Element | None) -> Any:
    if value is None:
        return None
    text = value.text or ""
    if value.tag == "bool":
        return text == "true"
    if value.tag == "number":
        return int(text)
    if value.tag == "double":
        return float(text)
    if value.tag == "stringlist":
        return [item.text or "" for item in value.findall("string")]
    return text
