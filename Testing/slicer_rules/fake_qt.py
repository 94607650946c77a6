"""Stand-in ``qt`` and ``ctk`` modules for running the module's Widget without Qt, strict where PythonQt is lax.

The base object and the simple classes; the stateful widgets (combo box, table, CTK and MRML widgets)
are in ``fake_widgets`` and the .ui loader in ``fake_ui``. Each widget class is built from ``qt_classes``: a member the table does not list raises AttributeError on
read *and* on write (in Slicer, writing an unknown name silently creates a Python attribute that does
nothing), and ``connect`` refuses a signal the class does not have. Widgets keep the state the module
reads back (texts, values, table cells, combo items), emit the signals Qt emits when a property changes,
and ``emit(signal, *args)`` plays a user's action. ``load_ui`` builds the widget tree of a .ui file.
"""

from __future__ import annotations

from typing import Any, Callable

from . import qt_classes

# Values a property has before anything sets it.
_DEFAULTS = {
    "text": "",
    "toolTip": "",
    "styleSheet": "",
    "enabled": True,
    "visible": True,
    "checked": False,
    "checkable": False,
    "value": 0,
    "minimum": 0,
    "maximum": 100,
    "currentPath": "",
    "directory": "",
    "placeholderText": "",
    "interval": 0,
    "singleShot": False,
    "tracking": True,
    "nodeTypes": (),
    "noneEnabled": False,
    "objectName": "",
    "currentIndex": -1,
}
# Setting these properties to a new value makes Qt emit these signals (with the new value).
_CHANGE_SIGNALS = {
    ("QLineEdit", "text"): ("textChanged(QString)",),
    ("QAbstractButton", "checked"): ("toggled(bool)",),
    ("QCheckBox", "checked"): ("stateChanged(int)",),
    ("ctkSliderWidget", "value"): ("valueChanged(double)",),
    ("ctkPathLineEdit", "currentPath"): ("currentPathChanged(QString)",),
    ("ctkDirectoryButton", "directory"): ("directoryChanged(QString)",),
    ("QProgressBar", "value"): ("valueChanged(int)",),
}


class StandInObject:
    """Base of every stand-in; ``CLASS`` names its row in ``qt_classes``."""

    CLASS = "QObject"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_slots", {})
        object.__setattr__(self, "_dynamic", {})
        object.__setattr__(self, "_children", [])
        object.__setattr__(self, "_parent", None)
        parent = next((a for a in args if isinstance(a, StandInObject)), kwargs.get("parent"))
        if parent is not None:
            self.setParent(parent)

    # Properties: only the table's members, on read and on write.
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        if name in qt_classes.members_of(self.CLASS):
            if name in _DEFAULTS:
                return _DEFAULTS[name]
            raise AttributeError(f"{self.CLASS}.{name}: the stand-in does not simulate this member")
        raise AttributeError(f"{self.CLASS} has no member '{name}' that Python can reach in Slicer")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if name not in qt_classes.members_of(self.CLASS):
            raise AttributeError(
                f"{self.CLASS} has no property '{name}': in Slicer this would create a Python attribute "
                "that does nothing"
            )
        changed = self._values.get(name, _DEFAULTS.get(name)) != value
        self._values[name] = value
        if changed:
            for (owner, prop), signals in _CHANGE_SIGNALS.items():
                if prop == name and qt_classes.is_a(self.CLASS, owner):
                    for signal in signals:
                        self.emit(signal, int(value) if signal == "stateChanged(int)" else value)

    # Signals.
    def connect(self, signal: str, slot: Callable) -> bool:
        if signal not in qt_classes.signals_of(self.CLASS):
            raise AttributeError(f"{self.CLASS} has no signal {signal}")
        self._slots.setdefault(signal, []).append(slot)
        return True

    def disconnect(self, signal: str, slot: Callable | None = None) -> bool:
        slots = self._slots.get(signal, [])
        self._slots[signal] = [] if slot is None else [s for s in slots if s != slot]
        return True

    def emit(self, signal: str, *args: Any) -> None:
        """Emit ``signal`` to its connected slots (a Qt slot takes the arguments it wants: PythonQt
        passes as many as the Python callable accepts)."""
        if signal not in qt_classes.signals_of(self.CLASS):
            raise AttributeError(f"{self.CLASS} has no signal {signal}")
        for slot in list(self._slots.get(signal, [])):
            _call_with_fitting_arguments(slot, args)

    def connected(self, signal: str) -> int:
        return len(self._slots.get(signal, []))

    # QObject API the module and Slicer's helpers use (``name`` before ``property``, which shadows the builtin).
    @property
    def name(self) -> str:
        return self._values.get("objectName", "")

    def setParent(self, parent: StandInObject | None) -> None:
        if self._parent is not None and self in self._parent._children:
            self._parent._children.remove(self)
        object.__setattr__(self, "_parent", parent)
        if parent is not None:
            parent._children.append(self)

    def parent(self) -> StandInObject | None:
        return self._parent

    def setProperty(self, name: str, value: Any) -> None:
        self._dynamic[name] = value

    def property(self, name: str) -> Any:
        return self._dynamic.get(name, self._values.get(name))

    def findChildren(self, _class: Any = None) -> list:
        found = []
        for child in self._children:
            found.append(child)
            found.extend(child.findChildren(_class))
        return found

    def isWidgetType(self) -> bool:
        return qt_classes.is_a(self.CLASS, "QWidget")

    def deleteLater(self) -> None:
        self.setParent(None)


def _call_with_fitting_arguments(slot: Callable, args: tuple) -> None:
    import inspect

    try:
        parameters = inspect.signature(slot).parameters.values()
    except (TypeError, ValueError):
        slot(*args)
        return
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        slot(*args)
        return
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    slot(*args[: len(positional)])


class QWidget(StandInObject):
    CLASS = "QWidget"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._layout = None

    def setLayout(self, layout: Any) -> None:
        self._layout = layout
        layout._owner = self

    def layout(self) -> Any:
        return self._layout

    def show(self) -> None:
        self.visible = True

    def hide(self) -> None:
        self.visible = False

    def setEnabled(self, enabled: bool) -> None:
        self.enabled = bool(enabled)

    def setVisible(self, visible: bool) -> None:
        self.visible = bool(visible)


class QAbstractButton(QWidget):
    CLASS = "QAbstractButton"

    def click(self) -> None:
        """A user's click: Qt emits clicked() and clicked(bool) only while the button is enabled."""
        if not self.enabled:
            return
        if self.checkable:
            self.checked = not self.checked
        self.emit("clicked()")
        self.emit("clicked(bool)", self.checked)


class QPushButton(QAbstractButton):
    CLASS = "QPushButton"


class QCheckBox(QAbstractButton):
    CLASS = "QCheckBox"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._values["checkable"] = True


class QLabel(QWidget):
    CLASS = "QLabel"


class QLineEdit(QWidget):
    CLASS = "QLineEdit"

    def setText(self, text: str) -> None:
        self.text = text

    def clear(self) -> None:
        self.text = ""


class QProgressBar(QWidget):
    CLASS = "QProgressBar"

    def setValue(self, value: int) -> None:
        self.value = int(value)


class QTabWidget(QWidget):
    CLASS = "QTabWidget"


class QTimer(StandInObject):
    CLASS = "QTimer"

    def start(self, msec: int | None = None) -> None:
        if msec is not None:
            self.interval = msec
        self._values["active"] = True

    def stop(self) -> None:
        self._values["active"] = False

    def isActive(self) -> bool:
        return bool(self._values.get("active", False))

    def setInterval(self, msec: int) -> None:
        self.interval = msec

    def setSingleShot(self, single: bool) -> None:
        self.singleShot = bool(single)

    def fire(self) -> None:
        """Stand-in only: the interval has passed (a single-shot timer stops first, as in Qt)."""
        if self.singleShot:
            self.stop()
        self.emit("timeout()")


class QShortcut(StandInObject):
    CLASS = "QShortcut"

    def __init__(self, key: Any = None, parent: Any = None, *args: Any) -> None:
        super().__init__(parent) if parent is not None else super().__init__()
        self._values["key"] = key
        self._values["context"] = Qt.WindowShortcut

    def setContext(self, context: int) -> None:
        self.context = context

    def activate(self) -> None:
        """Stand-in only: the user pressed the keys while focus is where the context allows."""
        self.emit("activated()")


class QLayout:
    """Layouts only collect widgets; geometry is not simulated."""

    def __init__(self, *args: Any) -> None:
        self.widgets: list = []
        self._owner = None

    def addWidget(self, widget: Any, *args: Any) -> None:
        self.widgets.append(widget)
        if self._owner is not None and isinstance(widget, StandInObject):
            widget.setParent(self._owner)

    def addStretch(self, *args: Any) -> None:
        return None


class Qt:
    WindowShortcut = 1
    WidgetShortcut = 0
    WidgetWithChildrenShortcut = 3
    ApplicationShortcut = 2
    WaitCursor = 3


class QKeySequence:
    def __init__(self, keys: str) -> None:
        self.keys = keys

    def toString(self) -> str:
        return self.keys


class QColor:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class QBrush:
    def __init__(self, color: QColor) -> None:
        self._color = color

    def color(self) -> QColor:
        return self._color


class QUrl:
    def __init__(self, text: str = "") -> None:
        self._text = text

    @staticmethod
    def fromLocalFile(path: str) -> QUrl:
        return QUrl("file://" + str(path))

    def toString(self) -> str:
        return self._text


class QDesktopServices:
    opened: list = []

    @staticmethod
    def openUrl(url: QUrl) -> bool:
        QDesktopServices.opened.append(url.toString())
        return True
