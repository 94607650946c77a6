"""Stand-ins for the stateful widgets the module reads back: combo box items, table cells and selection,
CTK's path, directory and slider widgets, MRML's node combo box and scene-aware widget (see ``fake_qt``)."""

from __future__ import annotations

from typing import Any

from .fake_qt import QWidget


class QComboBox(QWidget):
    CLASS = "QComboBox"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._items: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name == "count":
            return len(self._items)
        if name == "currentText":
            index = self._values.get("currentIndex", -1)
            return self._items[index] if 0 <= index < len(self._items) else ""
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "currentText":
            if value in self._items:
                self._select(self._items.index(value))
            return
        if name == "currentIndex":
            self._select(int(value))
            return
        super().__setattr__(name, value)

    def addItem(self, text: str) -> None:
        self._items.append(str(text))
        if len(self._items) == 1:
            self._select(0)

    def addItems(self, texts: list) -> None:
        for text in texts:
            self.addItem(text)

    def clear(self) -> None:
        self._items = []
        self._select(-1)

    def findText(self, text: str) -> int:
        return self._items.index(text) if text in self._items else -1

    def itemText(self, index: int) -> str:
        return self._items[index]

    def setCurrentIndex(self, index: int) -> None:
        self._select(int(index))

    def setCurrentText(self, text: str) -> None:
        self.currentText = text

    def _select(self, index: int) -> None:
        if self._values.get("currentIndex", -1) == index:
            return
        self._values["currentIndex"] = index
        self.emit("currentIndexChanged(int)", index)
        self.emit("currentTextChanged(QString)", self.currentText)


class QTableWidgetItem:
    """A cell: its text, background, tooltip and position once placed in a table."""

    def __init__(self, text: str = "") -> None:
        self._text = str(text)
        self._background = None
        self._tool_tip = ""
        self._position: tuple[int, int] | None = None

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        self._text = str(text)

    def setBackground(self, brush: Any) -> None:
        self._background = brush

    def background(self) -> Any:
        return self._background

    def setToolTip(self, text: str) -> None:
        self._tool_tip = text

    def toolTip(self) -> str:
        return self._tool_tip

    def row(self) -> int:
        return -1 if self._position is None else self._position[0]

    def column(self) -> int:
        return -1 if self._position is None else self._position[1]


class QTableWidget(QWidget):
    CLASS = "QTableWidget"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cells: dict[tuple[int, int], QTableWidgetItem] = {}
        self._headers: list[str] = []
        self._selected: set[int] = set()
        self._values.update(rowCount=0, columnCount=0)

    def setRowCount(self, rows: int) -> None:
        self._values["rowCount"] = int(rows)
        self._cells = {k: v for k, v in self._cells.items() if k[0] < rows}
        self._selected = {r for r in self._selected if r < rows}

    def setColumnCount(self, columns: int) -> None:
        self._values["columnCount"] = int(columns)
        self._cells = {k: v for k, v in self._cells.items() if k[1] < columns}

    def setHorizontalHeaderLabels(self, labels: list) -> None:
        self._headers = [str(label) for label in labels]

    def horizontalHeaderItem(self, column: int) -> QTableWidgetItem | None:
        return QTableWidgetItem(self._headers[column]) if column < len(self._headers) else None

    def setItem(self, row: int, column: int, item: QTableWidgetItem) -> None:
        if not (0 <= row < self.rowCount and 0 <= column < self.columnCount):
            return  # Qt ignores items outside the table
        item._position = (row, column)
        self._cells[(row, column)] = item

    def item(self, row: int, column: int) -> QTableWidgetItem | None:
        return self._cells.get((row, column))

    def clearContents(self) -> None:
        self._cells = {}

    def clear(self) -> None:
        self._cells = {}
        self._headers = []

    def selectRow(self, row: int) -> None:
        if 0 <= row < self.rowCount:
            self._selected = {row}
            self.emit("itemSelectionChanged()")

    def clearSelection(self) -> None:
        self._selected = set()
        self.emit("itemSelectionChanged()")

    def selectedItems(self) -> list[QTableWidgetItem]:
        return [item for (row, _), item in sorted(self._cells.items()) if row in self._selected]

    def currentRow(self) -> int:
        return min(self._selected) if self._selected else -1


class ctkPathLineEdit(QWidget):
    CLASS = "ctkPathLineEdit"


class ctkDirectoryButton(QWidget):
    CLASS = "ctkDirectoryButton"


class ctkSliderWidget(QWidget):
    CLASS = "ctkSliderWidget"

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "value":
            low, high = self._values.get("minimum", 0.0), self._values.get("maximum", 99.0)
            value = min(max(float(value), low), high)
        super().__setattr__(name, value)

    def setValue(self, value: float) -> None:
        self.value = value


class qMRMLWidget(QWidget):
    CLASS = "qMRMLWidget"

    def setMRMLScene(self, scene: Any) -> None:
        self._values["_scene"] = scene
        self.emit("mrmlSceneChanged(vtkMRMLScene*)", scene)

    def mrmlScene(self) -> Any:
        return self._values.get("_scene")


class qMRMLNodeComboBox(QWidget):
    CLASS = "qMRMLNodeComboBox"

    def setMRMLScene(self, scene: Any) -> None:
        self._scene = scene

    def mrmlScene(self) -> Any:
        return getattr(self, "_scene", None)

    def currentNode(self) -> Any:
        return self._values.get("_node")

    def setCurrentNode(self, node: Any) -> None:
        if self._values.get("_node") is node:
            return
        self._values["_node"] = node
        self.emit("currentNodeChanged(vtkMRMLNode*)", node)
        self.emit("currentNodeChanged(bool)", node is not None)
