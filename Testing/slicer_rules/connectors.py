"""Slicer's parameter-node GUI connectors as a table: which widget class may show which parameter type.

Encoded from ``Base/Python/slicer/parameterNodeWrapper/guiConnectors.py`` (Slicer 5.6 to main).
``connectGui`` tries the connectors in this order and takes the first whose widget class is *exactly*
the widget's class (``type(widget) == ...``, so a subclass does not match) and whose type matches; if
none matches it raises "Unable to create GUI connector". Two connectors refuse some annotations:
a QComboBox bound to a str/int/float/bool needs a ``Choice`` annotation, and a ctkSliderWidget (or a
QSlider) needs a bounded range (``WithinRange``, or both ``Minimum`` and ``Maximum``). The messages
below are Slicer's own, so a test failure reads like the error Slicer would raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PATH_TYPES = frozenset({"Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath"})


@dataclass(frozen=True)
class ParameterType:
    """A parameter-node field's type as the connectors see it.

    ``kind``: ``bool``, ``int``, ``float``, ``str``, ``path``, ``node``, ``enum`` or ``other``;
    ``annotations``: names of the ``Annotated[...]`` extras (``WithinRange``, ``Minimum``, ``Maximum``,
    ``Choice``, ``Decimals``, ``SingleStep``, ``Default``).
    """

    kind: str
    annotations: frozenset[str] = field(default_factory=frozenset)

    @property
    def bounded(self) -> bool:
        return "WithinRange" in self.annotations or {"Minimum", "Maximum"} <= self.annotations


@dataclass(frozen=True)
class Connector:
    name: str
    widget_classes: frozenset[str]
    kinds: frozenset[str]


CONNECTORS = (
    Connector("QCheckBoxToBoolConnector", frozenset({"QCheckBox"}), frozenset({"bool"})),
    Connector("QCheckablePushButtonToBoolConnector", frozenset({"QPushButton"}), frozenset({"bool"})),
    Connector("QSliderOrSpinBoxToIntConnector", frozenset({"QSlider", "QSpinBox"}), frozenset({"int"})),
    Connector(
        "QDoubleSpinBoxCtkSliderWidgetToFloatConnector",
        frozenset({"QDoubleSpinBox", "ctkSliderWidget"}),
        frozenset({"float"}),
    ),
    Connector(
        "QComboBoxToStringableConnector", frozenset({"QComboBox"}), frozenset({"int", "float", "str", "bool"})
    ),
    Connector("QComboBoxToEnumConnector", frozenset({"QComboBox"}), frozenset({"enum"})),
    Connector("QLineEditToStrConnector", frozenset({"QLineEdit"}), frozenset({"str"})),
    Connector("QTextEditPlainTextToStrConnector", frozenset({"QTextEdit"}), frozenset({"str"})),
    Connector("ctkPathLineEditToPathConnector", frozenset({"ctkPathLineEdit"}), frozenset({"path"})),
    Connector("ctkDirectoryButtonToPathConnector", frozenset({"ctkDirectoryButton"}), frozenset({"path"})),
    Connector("qMRMLNodeComboBoxToNodeConnector", frozenset({"qMRMLNodeComboBox"}), frozenset({"node"})),
    Connector(
        "qMRMLSubjectHierarchyTreeViewToNodeConnector",
        frozenset({"qMRMLSubjectHierarchyTreeView"}),
        frozenset({"node"}),
    ),
)


class ConnectorError(RuntimeError):
    """What Slicer's ``connectGui`` raises for a widget it cannot bind to its parameter."""


def connector_for(widget_class: str, parameter: ParameterType) -> Connector:
    """The connector Slicer would create for this widget class and parameter type, or ``ConnectorError``
    with Slicer's message."""
    for connector in CONNECTORS:
        if widget_class in connector.widget_classes and parameter.kind in connector.kinds:
            _check_annotations(connector, widget_class, parameter)
            return connector
    raise ConnectorError(
        f"Unable to create GUI connector from datatype '{parameter.kind}' to widget type '{widget_class}'"
    )


def _check_annotations(connector: Connector, widget_class: str, parameter: ParameterType) -> None:
    if connector.name == "QComboBoxToStringableConnector" and "Choice" not in parameter.annotations:
        raise ConnectorError("ComboBoxToStringableConnector requires the Choice annotation to be used.")
    if widget_class in ("ctkSliderWidget", "QSlider") and not parameter.bounded:
        raise ConnectorError(
            "Cannot have a connection to ctkSliderWidget where the float types is unbounded."
        )
