"""What Python can reach on each Qt, CTK and MRML widget class the module's .ui and code use, in Slicer.

PythonQt exposes a Qt class fully (its generated wrappers hold the public methods), but a CTK or Slicer
(qMRML) class only through Qt's meta-object system: its properties, signals, public slots and
Q_INVOKABLE methods. Writing a name PythonQt does not know creates a plain Python attribute that does
nothing, and connecting a signal the class does not have fails at run time inside Slicer only. So every
member and signal the module uses must be listed here for its class or a base class.

Sources: Qt 5.15 class references; CTK's ctkSliderWidget.h, ctkPathLineEdit.h, ctkDirectoryButton.h;
Slicer's qMRMLWidget.h and qMRMLNodeComboBox.h. ``QT5_ONLY_SIGNALS`` lists overloads Qt 6 removed:
Slicer moves to Qt 6, so the module must not rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WidgetClass:
    """One class: its base (None for QObject), the signals it declares, and the members Python reaches."""

    name: str
    base: str | None
    signals: frozenset[str] = field(default_factory=frozenset)
    members: frozenset[str] = field(default_factory=frozenset)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CLASSES = {
    c.name: c
    for c in (
        WidgetClass(
            "QObject",
            None,
            _words("destroyed() destroyed(QObject*) objectNameChanged(QString)"),
            _words(
                "objectName name parent setParent children findChild findChildren property setProperty "
                "blockSignals signalsBlocked deleteLater installEventFilter connect disconnect inherits "
                "className metaObject"
            ),
        ),
        WidgetClass(
            "QWidget",
            "QObject",
            _words("customContextMenuRequested(QPoint) windowTitleChanged(QString) windowIconChanged(QIcon)"),
            _words(
                "enabled visible hidden toolTip statusTip whatsThis styleSheet windowTitle font "
                "minimumWidth maximumWidth minimumHeight maximumHeight sizePolicy focusPolicy geometry "
                "width height setEnabled setDisabled setVisible setHidden show hide close setToolTip "
                "setStyleSheet setFocus hasFocus update repaint layout setLayout parentWidget window "
                "isVisible isEnabled isHidden resize setMinimumWidth setMaximumWidth setMinimumHeight "
                "setMaximumHeight setFixedWidth setFixedHeight addAction setSizePolicy setFont "
                "setWindowTitle adjustSize setFocusPolicy setContextMenuPolicy contextMenuPolicy "
                "updatesEnabled setUpdatesEnabled setCursor rect size sizeHint"
            ),
        ),
        WidgetClass(
            "QAbstractButton",
            "QWidget",
            _words("clicked() clicked(bool) pressed() released() toggled(bool)"),
            _words(
                "text icon checkable checked autoRepeat shortcut down iconSize setText setIcon "
                "setCheckable setChecked click toggle animateClick isChecked isCheckable setShortcut "
                "setAutoRepeat setDown isDown"
            ),
        ),
        WidgetClass(
            "QPushButton",
            "QAbstractButton",
            members=_words(
                "default autoDefault flat setMenu menu setDefault setAutoDefault setFlat showMenu"
            ),
        ),
        WidgetClass(
            "QCheckBox",
            "QAbstractButton",
            _words("stateChanged(int)"),
            _words("tristate checkState setCheckState setTristate isTristate"),
        ),
        WidgetClass(
            "QComboBox",
            "QWidget",
            _words(
                "activated(int) currentIndexChanged(int) currentTextChanged(QString) editTextChanged(QString) "
                "highlighted(int) textActivated(QString) textHighlighted(QString) activated(QString) "
                "currentIndexChanged(QString) highlighted(QString)"
            ),
            _words(
                "count currentIndex currentText currentData editable maxVisibleItems maxCount addItem "
                "addItems insertItem insertItems removeItem clear findText findData itemText itemData "
                "setItemText setItemData setCurrentIndex setCurrentText setEditable clearEditText "
                "setEditText model setModel lineEdit showPopup hidePopup insertSeparator setMaxVisibleItems"
            ),
        ),
        WidgetClass(
            "QLineEdit",
            "QWidget",
            _words(
                "cursorPositionChanged(int,int) editingFinished() returnPressed() selectionChanged() "
                "textChanged(QString) textEdited(QString) inputRejected()"
            ),
            _words(
                "text placeholderText readOnly maxLength echoMode displayText modified clearButtonEnabled "
                "alignment cursorPosition inputMask setText clear setPlaceholderText setReadOnly selectAll "
                "setMaxLength setValidator validator setClearButtonEnabled setAlignment undo redo copy cut "
                "paste insert setCursorPosition hasAcceptableInput setEchoMode setModified isReadOnly deselect"
            ),
        ),
        WidgetClass(
            "QLabel",
            "QWidget",
            _words("linkActivated(QString) linkHovered(QString)"),
            _words(
                "text textFormat pixmap wordWrap alignment openExternalLinks textInteractionFlags indent "
                "margin setText setNum clear setPixmap setWordWrap setAlignment setOpenExternalLinks "
                "setTextFormat setBuddy buddy setTextInteractionFlags hasSelectedText selectedText"
            ),
        ),
        WidgetClass(
            "QProgressBar",
            "QWidget",
            _words("valueChanged(int)"),
            _words(
                "value minimum maximum text textVisible format orientation invertedAppearance alignment "
                "setValue setMinimum setMaximum setRange reset setFormat setTextVisible resetFormat"
            ),
        ),
        WidgetClass(
            "QTabWidget",
            "QWidget",
            _words("currentChanged(int) tabBarClicked(int) tabBarDoubleClicked(int) tabCloseRequested(int)"),
            _words(
                "currentIndex count tabPosition tabsClosable movable documentMode currentWidget "
                "setCurrentIndex setCurrentWidget widget indexOf addTab insertTab removeTab tabText "
                "setTabText setTabEnabled isTabEnabled setTabToolTip clear"
            ),
        ),
        WidgetClass(
            "QAbstractItemView",
            "QWidget",
            _words(
                "activated(QModelIndex) clicked(QModelIndex) doubleClicked(QModelIndex) entered(QModelIndex) "
                "iconSizeChanged(QSize) pressed(QModelIndex) viewportEntered()"
            ),
            # selectedIndexes() is protected in Qt: PythonQt's wrappers do not reliably expose it.
            _words(
                "editTriggers selectionBehavior selectionMode alternatingRowColors autoScroll iconSize "
                "textElideMode model setModel selectionModel setSelectionModel setEditTriggers "
                "setSelectionBehavior setSelectionMode clearSelection selectAll currentIndex setCurrentIndex "
                "scrollTo scrollToTop scrollToBottom setAlternatingRowColors edit reset setItemDelegate "
                "itemDelegate indexAt viewport setIconSize"
            ),
        ),
        WidgetClass(
            "QTableView",
            "QAbstractItemView",
            members=_words(
                "showGrid gridStyle sortingEnabled wordWrap cornerButtonEnabled horizontalHeader "
                "verticalHeader selectRow selectColumn hideRow showRow hideColumn showColumn "
                "resizeColumnsToContents resizeRowsToContents resizeColumnToContents resizeRowToContents "
                "setSortingEnabled sortByColumn setColumnWidth setRowHeight columnWidth rowHeight "
                "isRowHidden setShowGrid setWordWrap setSpan clearSpans"
            ),
        ),
        WidgetClass(
            "QTableWidget",
            "QTableView",
            _words(
                "cellActivated(int,int) cellChanged(int,int) cellClicked(int,int) cellDoubleClicked(int,int) "
                "cellEntered(int,int) cellPressed(int,int) currentCellChanged(int,int,int,int) "
                "currentItemChanged(QTableWidgetItem*,QTableWidgetItem*) itemActivated(QTableWidgetItem*) "
                "itemChanged(QTableWidgetItem*) itemClicked(QTableWidgetItem*) "
                "itemDoubleClicked(QTableWidgetItem*) itemEntered(QTableWidgetItem*) "
                "itemPressed(QTableWidgetItem*) itemSelectionChanged()"
            ),
            _words(
                "rowCount columnCount setRowCount setColumnCount setItem item takeItem clear clearContents "
                "insertRow insertColumn removeRow removeColumn setHorizontalHeaderLabels "
                "setVerticalHeaderLabels setHorizontalHeaderItem horizontalHeaderItem selectedItems "
                "selectedRanges currentRow currentColumn currentItem setCurrentCell setCurrentItem row column "
                "editItem scrollToItem"
            ),
        ),
        WidgetClass(
            "ctkPathLineEdit",
            "QWidget",
            _words("currentPathChanged(QString) validInputChanged(bool)"),
            _words(
                "currentPath label nameFilters filters options showBrowseButton showHistoryButton "
                "sizeAdjustPolicy minimumContentsLength setCurrentPath browse retrieveHistory "
                "addCurrentPathToHistory setCurrentFileExtension"
            ),
        ),
        WidgetClass(
            "ctkDirectoryButton",
            "QWidget",
            _words("directoryChanged(QString) directorySelected(QString)"),
            _words("directory caption text icon options acceptMode setDirectory browse"),
        ),
        WidgetClass(
            "ctkSliderWidget",
            "QWidget",
            _words("valueChanged(double) valueIsChanging(double) decimalsChanged(int)"),
            _words(
                "decimals singleStep pageStep minimum maximum value prefix suffix tickInterval tickPosition "
                "synchronizeSiblings spinBoxAlignment tracking spinBoxVisible popupSlider invertedAppearance "
                "invertedControls reset setValue setSpinBoxVisible setDecimals"
            ),
        ),
        WidgetClass(
            "qMRMLWidget",
            "QWidget",
            _words("mrmlSceneChanged(vtkMRMLScene*)"),
            _words("setMRMLScene mrmlScene"),
        ),
        WidgetClass(
            "qMRMLNodeComboBox",
            "QWidget",
            _words(
                "currentNodeChanged(vtkMRMLNode*) currentNodeChanged(bool) currentNodeIDChanged(QString) "
                "nodeActivated(vtkMRMLNode*) nodeAdded(vtkMRMLNode*) nodeAddedByUser(vtkMRMLNode*) "
                "nodeAboutToBeRemoved(vtkMRMLNode*) nodeAboutToBeEdited(vtkMRMLNode*)"
            ),
            _words(
                "nodeTypes showHidden showChildNodeTypes hideChildNodeTypes baseName addEnabled "
                "removeEnabled editEnabled renameEnabled noneEnabled noneDisplay selectNodeUponCreation "
                "currentNodeID setMRMLScene mrmlScene currentNode setCurrentNode setCurrentNodeID "
                "setCurrentNodeIndex addNode removeCurrentNode editCurrentNode renameCurrentNode nodeCount"
            ),
        ),
        WidgetClass(
            "QTimer",
            "QObject",
            _words("timeout()"),
            _words("interval singleShot active setInterval setSingleShot start stop isActive"),
        ),
        WidgetClass(
            "QShortcut",
            "QObject",
            _words("activated() activatedAmbiguously()"),
            _words("key context enabled autoRepeat setKey setContext setEnabled setAutoRepeat"),
        ),
    )
}

QT5_ONLY_SIGNALS = frozenset(
    {
        ("QComboBox", "activated(QString)"),
        ("QComboBox", "currentIndexChanged(QString)"),
        ("QComboBox", "highlighted(QString)"),
    }
)


def lineage(name: str) -> list[WidgetClass]:
    """The class and its bases, most derived first; KeyError for a class this table does not know."""
    chain = []
    current: str | None = name
    while current is not None:
        chain.append(CLASSES[current])
        current = CLASSES[current].base
    return chain


def is_a(name: str, ancestor: str) -> bool:
    return any(c.name == ancestor for c in lineage(name))


def signals_of(name: str) -> frozenset[str]:
    """Every signal of the class and its bases, without the Qt-5-only overloads."""
    every = frozenset().union(*(c.signals for c in lineage(name)))
    return frozenset(s for s in every if not any((c.name, s) in QT5_ONLY_SIGNALS for c in lineage(name)))


def members_of(name: str) -> frozenset[str]:
    return frozenset().union(*(c.members for c in lineage(name)))
