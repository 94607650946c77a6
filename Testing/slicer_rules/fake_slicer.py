"""Stand-ins for the parts of Slicer that the slicer-core wheel lacks: the scripted-module base classes, the
parameter-node wrapper with Slicer's GUI-connector rules, i18n, and the GUI side of ``slicer.util``,
``slicer.app`` and ``slicer.modules``. The MRML side (scene, nodes, ``VTKObservationMixin``) stays real.
The parameter-node wrapper is in ``fake_parameter_node``.

``install_module_stand_ins()`` registers the modules the module file imports (needed before importing
it). ``GuiSession`` patches the GUI functions for one test and records what the user would have seen
(error dialogs, confirmations, status messages, slice jumps, pip installs) in plain lists.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
import unittest
from typing import Any

from . import fake_parameter_node, fake_ui, fake_widgets
from .module_source import MODULE_FILE

# --- slicer.ScriptedLoadableModule (as Slicer's own Base/Python/slicer/ScriptedLoadableModule.py) ------


class ScriptedLoadableModule:
    def __init__(self, parent) -> None:
        super().__init__()
        self.parent = parent
        self.moduleName = self.__class__.__name__


class ScriptedLoadableModuleWidget:
    def __init__(self, parent=None) -> None:
        import qt
        import slicer

        super().__init__()
        self.moduleName = self.__class__.__name__.removesuffix("Widget")
        self.developerMode = False
        if not parent:
            self.parent = slicer.qMRMLWidget()
            self.parent.setLayout(qt.QVBoxLayout())
            self.parent.setMRMLScene(slicer.mrmlScene)
        else:
            self.parent = parent
        self.layout = self.parent.layout()
        if not parent:
            self.setup()
            self.parent.show()

    def resourcePath(self, filename: str) -> str:
        import slicer

        return os.path.join(os.path.dirname(slicer.util.modulePath(self.moduleName)), "Resources", filename)

    def setup(self) -> None:
        return None

    def cleanup(self) -> None:
        return None


class ScriptedLoadableModuleLogic:
    def __init__(self, parent=None) -> None:
        super().__init__()
        self.moduleName = self.__class__.__name__.removesuffix("Logic")
        self.isSingletonParameterNode = True

    def getParameterNode(self):
        import slicer

        node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node:
            return node
        return slicer.mrmlScene.AddNode(self.createParameterNode())

    def createParameterNode(self):
        import slicer

        node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.UnRegister(None)
        node.SetSingletonTag(self.moduleName)
        node.SetAttribute("ModuleName", self.moduleName)
        node.SetName(slicer.mrmlScene.GenerateUniqueName(self.moduleName))
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message, requestedDelay=None, msec=None) -> None:
        print(message)


def install_module_stand_ins() -> None:
    """Register the modules the module file imports that slicer-core does not have (idempotent)."""
    import slicer

    def register(name: str, **members: Any) -> types.ModuleType:
        module = sys.modules.get(name) or types.ModuleType(name)
        module.__dict__.update(members)
        sys.modules[name] = module
        return module

    register("qt", **vars(fake_ui.qt_module()))
    register("ctk", **vars(fake_ui.ctk_module()))
    scripted = register(
        "slicer.ScriptedLoadableModule",
        ScriptedLoadableModule=ScriptedLoadableModule,
        ScriptedLoadableModuleWidget=ScriptedLoadableModuleWidget,
        ScriptedLoadableModuleLogic=ScriptedLoadableModuleLogic,
        ScriptedLoadableModuleTest=ScriptedLoadableModuleTest,
    )
    scripted.__all__ = [n for n in vars(scripted) if n.startswith("Scripted")]
    register("slicer.i18n", tr=lambda text: text, translate=lambda context, text: text)
    register(
        "slicer.parameterNodeWrapper",
        parameterNodeWrapper=fake_parameter_node.parameterNodeWrapper,
        WithinRange=fake_parameter_node.WithinRange,
        Minimum=fake_parameter_node.Minimum,
        Maximum=fake_parameter_node.Maximum,
        Choice=fake_parameter_node.Choice,
        Default=fake_parameter_node.Default,
    )
    slicer.ScriptedLoadableModule = scripted
    slicer.qMRMLWidget = fake_widgets.qMRMLWidget
    slicer.qMRMLNodeComboBox = fake_widgets.qMRMLNodeComboBox


# --- the GUI side of slicer.util / slicer.app / slicer.modules -------------------------------------


class GuiSession:
    """Patches Slicer's GUI functions for one test; records what a user would have seen.

    ``confirm``: the answer to every OK/Cancel question. Use as a context manager (restores on exit).
    """

    def __init__(self, *, confirm: bool = True, testing: bool = False, temporary_path: str = "") -> None:
        self.confirm = confirm
        self.testing = testing
        self.temporary_path = temporary_path
        self.errors: list[str] = []
        self.questions: list[str] = []
        self.status_messages: list[str] = []
        self.jumps: list[tuple[float, float, float]] = []
        self.selected_modules: list[str] = []
        self.pip_installs: list = []
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> GuiSession:
        import slicer

        install_module_stand_ins()
        util = slicer.util
        self._patch(util, "loadUI", fake_ui.load_ui)
        self._patch(util, "childWidgetVariables", _child_widget_variables)
        self._patch(util, "tryWithErrorDisplay", self._try_with_error_display)
        self._patch(util, "confirmOkCancelDisplay", self._confirm)
        self._patch(util, "errorDisplay", lambda text, **kwargs: self.errors.append(str(text)))
        self._patch(util, "warningDisplay", lambda text, **kwargs: self.errors.append(str(text)))
        self._patch(util, "showStatusMessage", lambda text, duration=0: self.status_messages.append(text))
        self._patch(util, "mainWindow", lambda: None)
        self._patch(util, "modulePath", lambda name: str(MODULE_FILE))
        self._patch(util, "selectModule", self.selected_modules.append)
        self._patch(util, "pip_install", self.pip_installs.append)
        self._patch(util, "delayDisplay", lambda message, msec=None: print(message))
        self._patch(slicer, "app", _App(self))
        self._patch(slicer, "modules", _Modules(self))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for owner, name, value in reversed(self._saved):
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        self._saved = []

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name, _MISSING)))
        setattr(owner, name, value)

    def _confirm(self, text: str, *args: Any, **kwargs: Any) -> bool:
        self.questions.append(str(text))
        return self.confirm

    @contextlib.contextmanager
    def _try_with_error_display(self, message=None, show=True, waitCursor=False):
        # As Slicer's: show the message with the error, then re-raise.
        try:
            yield
        except Exception as error:
            if show:
                self.errors.append(f"{message}\n\n{error}" if message else str(error))
            raise


_MISSING = object()


def _child_widget_variables(widget):
    namespace = types.SimpleNamespace()
    for child in widget.findChildren():
        if child.name:
            setattr(namespace, child.name, child)
    return namespace


class _App:
    def __init__(self, session: GuiSession) -> None:
        self._session = session
        self.temporaryPath = session.temporary_path
        self.applicationName = "Slicer"

    def testingEnabled(self) -> bool:
        return self._session.testing

    def processEvents(self) -> None:
        return None

    def setOverrideCursor(self, cursor) -> None:
        return None

    def restoreOverrideCursor(self) -> None:
        return None


class _Modules:
    def __init__(self, session: GuiSession) -> None:
        recorder = session

        class MarkupsLogic:
            def JumpSlicesToLocation(self, r, a, s, centred, *args):
                recorder.jumps.append((r, a, s))

        class Editor:
            def setSegmentationNode(self, node):
                self.segmentation = node

            def setSourceVolumeNode(self, node):
                self.volume = node

            def setCurrentSegmentID(self, segment_id):
                self.segment_id = segment_id

        editor = Editor()
        self.markups = types.SimpleNamespace(logic=lambda: MarkupsLogic())
        self.segmenteditor = types.SimpleNamespace(
            widgetRepresentation=lambda: types.SimpleNamespace(
                self=lambda: types.SimpleNamespace(editor=editor)
            )
        )
        self.editor = editor
