import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import *  # noqa: F403 (the scripted-module template's import)
from slicer.util import VTKObservationMixin

if TYPE_CHECKING:
    from SegQualityReviewLib.review import JobRun

# Heavy parts (torch, timm, the estimator, metrics, batch) are imported inside the methods that use them,
# and run in a separate process, so the module loads fast and the GUI never freezes.


#
# SegQualityReview
#


class SegQualityReview(ScriptedLoadableModule):  # noqa: F405
    """Review of medical image segmentations, structure by structure, guided by predicted quality."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)  # noqa: F405
        self.parent.title = _("Segmentation Quality Review")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["SegQualityReview developers"]
        self.parent.helpText = _(
            "Predicts the quality (Dice) of every structure of a segmentation without ground truth, flags the"
            " ones that need a human look, and records accept / reject / needs-edit decisions with who and"
            " when. With a reference segmentation it also shows the true metrics. The Batch tab compares"
            " models over a dataset with confidence intervals and ranking stability."
            ' See the <a href="https://github.com/SegQualityReview/SegQualityReview/blob/main/docs/user-guide.md">'
            "user guide</a>."
        )
        self.parent.acknowledgementText = _(
            "Built on 3D Slicer, SimpleITK, PyTorch and timm. Test data come from TotalSegmentator,"
            " pyradiomics, BraTS-Toolkit and the DeepMind head-and-neck organs-at-risk set; see SOURCES in"
            " the repository for their licences."
        )


#
# SegQualityReviewParameterNode
#


@parameterNodeWrapper
class SegQualityReviewParameterNode:
    """The module's settings, kept in the scene (bound to the .ui through SlicerParameterName)."""

    inputVolume: vtkMRMLScalarVolumeNode
    inputSegmentation: vtkMRMLSegmentationNode
    referenceSegmentation: vtkMRMLSegmentationNode
    threshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.7
    useEstimator: bool = True
    segmenterModel: str = ""
    batchConfig: Path = Path()
    batchReferenceFolder: Path = Path()
    batchPredictionFolders: str = ""
    batchCasesCsv: Path = Path()
    batchModelCardsFolder: Path = Path()
    batchOutputFolder: Path = Path()


#
# SegQualityReviewWidget
#


class SegQualityReviewWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):  # noqa: F405
    """The two tabs: Review (one case, structure by structure) and Batch (models over a dataset)."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)  # noqa: F405
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._run = None
        self._batchRun = None
        self._batchResult = None
        self._timer = None
        self._shownSegmentationID = None
        self._shortcuts = []

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)  # noqa: F405
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SegQualityReview.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = SegQualityReviewLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndImportEvent, self.onSceneEndImport)

        self.ui.assessButton.connect("clicked(bool)", self.onAssessButton)
        self.ui.runSegmenterButton.connect("clicked(bool)", self.onRunSegmenterButton)
        self.ui.resultsTable.connect("itemSelectionChanged()", self.onResultSelected)
        self.ui.acceptButton.connect("clicked(bool)", lambda: self.onDecision("accepted"))
        self.ui.rejectButton.connect("clicked(bool)", lambda: self.onDecision("rejected"))
        self.ui.needsEditButton.connect("clicked(bool)", lambda: self.onDecision("needs_edit"))
        self.ui.noteLineEdit.connect("editingFinished()", self.onNoteEdited)
        self.ui.previousFlaggedButton.connect("clicked(bool)", lambda: self.onStepFlagged(-1))
        self.ui.nextFlaggedButton.connect("clicked(bool)", lambda: self.onStepFlagged(1))
        self.ui.exportButton.connect("clicked(bool)", self.onExportButton)
        self.ui.runBatchButton.connect("clicked(bool)", self.onRunBatchButton)
        self.ui.openReportButton.connect("clicked(bool)", self.onOpenReportButton)
        self.ui.worstCasesTable.connect("cellDoubleClicked(int,int)", self.onWorstCaseDoubleClicked)
        self.ui.segmenterComboBox.addItems(self.logic.availableSegmenters())
        self.ui.openReportButton.enabled = False

        for keys, step in (("Ctrl+Shift+N", 1), ("Ctrl+Shift+P", -1)):
            shortcut = qt.QShortcut(qt.QKeySequence(keys), slicer.util.mainWindow())
            shortcut.connect("activated()", lambda step=step: self.onStepFlagged(step))
            self._shortcuts.append(shortcut)

        self._timer = qt.QTimer()
        self._timer.setInterval(200)
        self._timer.connect("timeout()", self.onPollProcesses)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()
        for shortcut in self._shortcuts:
            shortcut.setParent(None)
        self._shortcuts = []
        if self._timer:
            self._timer.stop()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGui)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)
        self._shownSegmentationID = None

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def onSceneEndImport(self, caller, event) -> None:
        """A reopened scene brings its review back: the results table refills from the scene."""
        self.initializeParameterNode()
        self._showSession()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, inputParameterNode: Optional[SegQualityReviewParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGui)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateGui)
            self._updateGui()

    def _updateGui(self, caller=None, event=None) -> None:
        parameters = self._parameterNode
        ready = bool(parameters and parameters.inputVolume and parameters.inputSegmentation)
        self.ui.assessButton.enabled = ready or self._run is not None
        self.ui.assessButton.text = _("Cancel") if self._run is not None else _("Assess")
        self.ui.runSegmenterButton.enabled = bool(parameters and parameters.inputVolume) and self._run is None
        session = self._session
        segmentation = parameters.inputSegmentation if parameters else None
        if (segmentation.GetID() if segmentation else None) != self._shownSegmentationID:
            # Another segmentation: show its review at the threshold it was reviewed with.
            self._showSession()
            if session is not None and abs(session.context.threshold - parameters.threshold) > 1e-9:
                parameters.threshold = session.context.threshold
        elif session is not None and abs(session.context.threshold - parameters.threshold) > 1e-9:
            self.logic.setThreshold(segmentation, parameters.threshold)
            self._showSession()

    @property
    def _session(self):
        """The review of the selected segmentation (the Logic keeps one per segmentation node)."""
        parameters = self._parameterNode
        if parameters is None or parameters.inputSegmentation is None:
            return None
        return self.logic.restoreReview(parameters.inputSegmentation)

    # Review tab

    def onAssessButton(self) -> None:
        if self._run is not None:
            self._run.cancel()
            self._run = None
            self.ui.statusLabel.text = _("Cancelled")
            self._updateGui()
            return
        parameters = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Could not start the assessment."), waitCursor=True):
            if parameters.useEstimator and not self.logic.ensureDependencies(askUser=True):
                return
            self._run = self.logic.startAssessment(
                parameters.inputVolume,
                parameters.inputSegmentation,
                parameters.referenceSegmentation,
                threshold=parameters.threshold,
                useEstimator=parameters.useEstimator,
            )
            self.ui.progressBar.value = 0
            self._timer.start()
        self._updateGui()

    def onRunSegmenterButton(self) -> None:
        parameters = self._parameterNode
        model = self.ui.segmenterComboBox.currentText
        with slicer.util.tryWithErrorDisplay(_("Segmentation failed."), waitCursor=True):
            parameters.inputSegmentation = self.logic.segment(parameters.inputVolume, model)

    def onPollProcesses(self) -> None:
        if self._run is not None:
            progress = self._run.poll()
            if progress:
                self.ui.progressBar.value = int(100 * progress[0])
                self.ui.statusLabel.text = progress[1]
            if self._run.finished:
                run, self._run = self._run, None
                with slicer.util.tryWithErrorDisplay(_("The assessment failed."), waitCursor=True):
                    self.logic.finishAssessment(run)
                    self._showSession()
                self._updateGui()
        if self._batchRun is not None:
            progress = self._batchRun.poll()
            if progress:
                self.ui.batchProgressBar.value = int(100 * progress[0])
                self.ui.batchStatusLabel.text = progress[1]
            if self._batchRun.finished:
                run, self._batchRun = self._batchRun, None
                with slicer.util.tryWithErrorDisplay(_("The comparison failed."), waitCursor=True):
                    self._showBatch(self.logic.finishCompare(run))
        if self._run is None and self._batchRun is None:
            self._timer.stop()

    def _showSession(self) -> None:
        parameters = self._parameterNode
        segmentation = parameters.inputSegmentation if parameters else None
        self._shownSegmentationID = segmentation.GetID() if segmentation else None
        table = self.ui.resultsTable
        table.clearContents()
        if self._session is None:
            table.setRowCount(0)
            self.ui.alertLabel.text = ""
            return
        colours = {
            "below_threshold": "#e74c3c",
            "borderline": "#f1c40f",
            "fine": "#2ecc71",
            "unknown": "#95a5a6",
        }
        headers = [
            _("Flag"),
            _("Structure"),
            _("Predicted Dice"),
            _("Interval"),
            _("True Dice"),
            _("HD95 (mm)"),
            _("Decision"),
            _("Note"),
        ]
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setRowCount(len(self._session.items))
        for row, item in enumerate(self._session.items):
            flag = qt.QTableWidgetItem("")
            flag.setBackground(qt.QBrush(qt.QColor(colours[item.flag.value])))
            flag.setToolTip(item.flag.value.replace("_", " "))
            cells = [
                item.structure,
                _number(item.predicted_dice),
                f"{_number(item.interval_low)} - {_number(item.interval_high)}"
                if item.interval_low is not None
                else "",
                _number(item.true_dice),
                _number(item.true_hd95_mm, digits=1),
                item.decision.value.replace("_", " "),
                item.note,
            ]
            table.setItem(row, 0, flag)
            for column, text in enumerate(cells, start=1):
                table.setItem(row, column, qt.QTableWidgetItem(text))
        self.ui.alertLabel.text = self._session.alert_text()

    def _selectedStructure(self) -> Optional[str]:
        rows = {index.row() for index in self.ui.resultsTable.selectedIndexes()}
        if not rows or self._session is None:
            return None
        return self._session.items[min(rows)].structure

    def onResultSelected(self) -> None:
        structure = self._selectedStructure()
        if structure is None:
            return
        parameters = self._parameterNode
        item = self._session.item(structure)
        self.ui.noteLineEdit.text = item.note
        self.logic.showStructure(parameters.inputSegmentation, parameters.inputVolume, structure)

    def onDecision(self, decision: str) -> None:
        structure = self._selectedStructure()
        if structure is None:
            return
        parameters = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Could not record the decision."), waitCursor=True):
            self.logic.decide(
                parameters.inputSegmentation, structure, decision, note=self.ui.noteLineEdit.text
            )
            if decision == "needs_edit":
                self.logic.openSegmentEditor(parameters.inputSegmentation, parameters.inputVolume, structure)
        self._reselect(structure)

    def onNoteEdited(self) -> None:
        structure = self._selectedStructure()
        if structure is None or self._session.item(structure).note == self.ui.noteLineEdit.text:
            return
        item = self._session.item(structure)
        self.logic.decide(
            self._parameterNode.inputSegmentation, structure, item.decision, note=self.ui.noteLineEdit.text
        )
        self._reselect(structure)

    def onStepFlagged(self, step: int) -> None:
        if self._session is None:
            return
        structure = self._session.next_flagged(self._selectedStructure(), step=step)
        if structure is not None:
            self._reselect(structure)

    def _reselect(self, structure: str) -> None:
        self._showSession()
        names = [item.structure for item in self._session.items]
        self.ui.resultsTable.selectRow(names.index(structure))

    def onExportButton(self) -> None:
        folder = self.ui.exportDirectoryButton.directory
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            csvPath, jsonPath = self.logic.exportReview(self._parameterNode.inputSegmentation, folder)
            slicer.util.showStatusMessage(_("Review written to {path}").format(path=csvPath), 5000)

    # Batch tab

    def onRunBatchButton(self) -> None:
        if self._batchRun is not None:
            self._batchRun.cancel()
            self._batchRun = None
            self.ui.runBatchButton.text = _("Run comparison")
            return
        parameters = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Could not start the comparison."), waitCursor=True):
            config = self.logic.batchConfig(
                configPath=parameters.batchConfig,
                referenceFolder=parameters.batchReferenceFolder,
                predictionFolders=parameters.batchPredictionFolders,
                casesCsv=parameters.batchCasesCsv,
                modelCardsFolder=parameters.batchModelCardsFolder,
            )
            self._batchRun = self.logic.startCompare(config, outputFolder=parameters.batchOutputFolder)
            self.ui.batchProgressBar.value = 0
            self.ui.runBatchButton.text = _("Cancel")
            self._timer.start()

    def _showBatch(self, result) -> None:
        self.ui.runBatchButton.text = _("Run comparison")
        for widget, rows in (
            (self.ui.summaryTable, result.summaryRows),
            (self.ui.worstCasesTable, result.worstCases),
        ):
            columns = list(rows[0]) if rows else []
            widget.clear()
            widget.setColumnCount(len(columns))
            widget.setHorizontalHeaderLabels(columns)
            widget.setRowCount(len(rows))
            for row, values in enumerate(rows):
                for column, name in enumerate(columns):
                    widget.setItem(row, column, qt.QTableWidgetItem(str(values[name])))
        self._batchResult = result
        self.ui.openReportButton.enabled = result.reportPath is not None

    def onOpenReportButton(self) -> None:
        qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(self._batchResult.reportPath)))

    def onWorstCaseDoubleClicked(self, row: int, column: int) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not load the case."), waitCursor=True):
            self.logic.loadCase(self._batchResult, self._batchResult.worstCases[row])


def _number(value, *, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


#
# SegQualityReviewLogic
#


@dataclass(frozen=True)
class AssessmentResult:
    """What ``assess`` returns: the review items, the live review session and the table nodes it filled."""

    items: list
    session: object
    itemsTableNode: object
    auditTableNode: object


class SegQualityReviewLogic(ScriptedLoadableModuleLogic):  # noqa: F405
    """The module's computation and the Python-console API (docs/python-console.md).

    ``assess``, ``compare`` and ``segment`` block and return plain records plus the nodes they filled; the
    Widget uses their ``start...`` / ``finish...`` halves, polled from a timer. ``processLauncher``
    starts a command line in a separate process (the core's runner by default; tests may pass another).
    """

    def __init__(
        self, *, processLauncher: Optional[Callable] = None, autosaveFolder: Optional[str] = None
    ) -> None:
        ScriptedLoadableModuleLogic.__init__(self)  # noqa: F405
        self._launch = processLauncher or _startProcess
        app = getattr(slicer, "app", None)
        self.workFolder = getattr(app, "temporaryPath", None) or tempfile.gettempdir()
        self.autosaveFolder = autosaveFolder or self.workFolder
        self._sessions = {}
        self._structureSets = {}

    def getParameterNode(self) -> SegQualityReviewParameterNode:
        return SegQualityReviewParameterNode(super().getParameterNode())

    # Dependencies

    def ensureDependencies(self, *, askUser: bool = True) -> bool:
        """Install what the core needs on first use, with the user's consent: torch through the PyTorch
        extension, the rest from Resources/requirements.txt. Slicer's own numpy, scipy, SimpleITK and VTK
        are pinned to their installed versions during the install, so they are never replaced."""
        import importlib.metadata
        import importlib.util

        requirements = Path(__file__).parent / "Resources" / "requirements.txt"
        missing = [name for name in _requirementNames(requirements) if not _isInstalled(name)]
        needTorch = importlib.util.find_spec("torch") is None
        if not missing and not needTorch:
            return True
        packages = ", ".join(missing + (["torch"] if needTorch else []))
        if askUser and not slicer.util.confirmOkCancelDisplay(
            _("SegQualityReview needs {packages}. Install them now (this can take several minutes)?").format(
                packages=packages
            )
        ):
            return False
        if needTorch:
            import PyTorchUtils

            if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False) is None:
                return False
        constraints = Path(tempfile.mkdtemp(prefix="SegQualityReview-pip-")) / "constraints.txt"
        pinned = []
        for name in ("numpy", "scipy", "SimpleITK", "vtk"):
            try:
                pinned.append(f"{name}=={importlib.metadata.version(name)}")
            except importlib.metadata.PackageNotFoundError:
                continue
        constraints.write_text("\n".join(pinned) + "\n", encoding="utf-8")
        slicer.util.pip_install(["-r", str(requirements), "-c", str(constraints)])
        return True

    # Review

    def assess(
        self,
        volumeNode,
        segmentationNode,
        referenceNode=None,
        threshold: float = 0.7,
        *,
        useEstimator: bool = True,
        weights=None,
        device: str = "auto",
        progress: Optional[Callable[[float, str], None]] = None,
    ) -> AssessmentResult:
        """Assess every segment of ``segmentationNode`` on ``volumeNode`` (blocking) and start its review.

        Predicted quality comes from the estimator; true metrics from the metric core when
        ``referenceNode`` is given. The items fill a table node, every segment gets review tags, and the
        review autosaves beside the scene. Returns the items (worst first), the session and table nodes.
        """
        run = self.startAssessment(
            volumeNode,
            segmentationNode,
            referenceNode,
            threshold=threshold,
            useEstimator=useEstimator,
            weights=weights,
            device=device,
        )
        run.wait(progress=progress)
        return self.finishAssessment(run)

    def startAssessment(
        self,
        volumeNode,
        segmentationNode,
        referenceNode=None,
        *,
        threshold: float = 0.7,
        useEstimator: bool = True,
        weights=None,
        device: str = "auto",
    ) -> "JobRun":
        """Write the job and start it in a separate process; returns the run to poll, cancel or wait on."""
        from SegQualityReviewLib import mrml_bridge
        from SegQualityReviewLib.review.assessment import write_job

        if volumeNode is None or segmentationNode is None:
            raise ValueError(_("Select a volume and a segmentation to assess."))
        structures = mrml_bridge.structures_from_segmentation_node(
            segmentationNode, reference_volume_node=volumeNode
        )
        reference = None
        if referenceNode is not None:
            reference = mrml_bridge.structures_from_segmentation_node(
                referenceNode, reference_volume_node=volumeNode
            )
        self._structureSets[segmentationNode.GetID()] = structures
        folder = Path(tempfile.mkdtemp(prefix="SegQualityReview-assess-", dir=self.workFolder))
        write_job(
            folder,
            mrml_bridge.volume_from_node(volumeNode),
            structures,
            reference=reference,
            threshold=threshold,
            use_estimator=useEstimator,
            weights=weights,
            device=device,
        )
        command = [_pythonExecutable(), "-m", "SegQualityReviewLib.review.assessment", str(folder)]
        context = {
            "volume": volumeNode,
            "segmentation": segmentationNode,
            "reference": referenceNode,
            "threshold": float(threshold),
        }
        return _jobRun(self._launch(command), folder=folder, context=context)

    def finishAssessment(self, run: "JobRun") -> AssessmentResult:
        """Read a finished run's items into the scene and start (or replace) the review session."""
        from SegQualityReviewLib.review import ReviewContext, ReviewSession
        from SegQualityReviewLib.review.assessment import read_job_result

        run.check(_("The assessment"))
        items = read_job_result(run.folder)
        shutil.rmtree(run.folder, ignore_errors=True)
        segmentationNode = run.context["segmentation"]
        reference = run.context["reference"]
        context = ReviewContext(
            volume=run.context["volume"].GetName(),
            segmentation=segmentationNode.GetName(),
            reference=reference.GetName() if reference is not None else "",
            threshold=run.context["threshold"],
        )
        session = ReviewSession(items, context=context, autosave_path=self._autosavePath(segmentationNode))
        self._attachSession(segmentationNode, session)
        session.save(session.autosave_path)
        itemsTable, auditTable = self._writeReviewToScene(segmentationNode, session)
        return AssessmentResult(
            items=session.items, session=session, itemsTableNode=itemsTable, auditTableNode=auditTable
        )

    def decide(
        self,
        segmentationNode,
        structure: str,
        decision: str,
        *,
        note: Optional[str] = None,
        reviewer: Optional[str] = None,
    ):
        """Record a decision on one structure; it reaches the scene and the autosave before returning."""
        session = self.restoreReview(segmentationNode)
        if session is None:
            raise ValueError(_("{name} has not been assessed yet.").format(name=segmentationNode.GetName()))
        # The scene may have been saved (or saved elsewhere) since the review started: autosave beside it.
        session.autosave_path = self._autosavePath(segmentationNode)
        return session.decide(structure, decision, note=note, reviewer=reviewer)

    def setThreshold(self, segmentationNode, threshold: float) -> None:
        """Re-flag a review against a new threshold (decisions stay); scene and autosave follow."""
        session = self.restoreReview(segmentationNode)
        if session is not None:
            session.set_threshold(threshold)
            self._writeReviewToScene(segmentationNode, session)

    def restoreReview(self, segmentationNode):
        """The review of a segmentation: the live one, else rebuilt from the scene's tables or the autosave,
        whichever holds more decisions (the autosave is newer after a crash before the scene was saved)."""
        from SegQualityReviewLib import mrml_bridge
        from SegQualityReviewLib.review import AuditEntry, ReviewContext, ReviewItem, ReviewSession

        if segmentationNode is None:
            return None
        if segmentationNode.GetID() in self._sessions:
            return self._sessions[segmentationNode.GetID()]
        candidates = []
        itemsTable = mrml_bridge.review_table_node(
            slicer.mrmlScene, segmentationNode, role="items", create=False
        )
        if itemsTable is not None:
            auditTable = mrml_bridge.review_table_node(
                slicer.mrmlScene, segmentationNode, role="audit", create=False
            )
            context = ReviewContext(**_contextFromAttributes(itemsTable))
            items = [
                ReviewItem.from_mapping(row, source=itemsTable.GetName())
                for row in mrml_bridge.read_table(itemsTable)
            ]
            audit = [AuditEntry(**row) for row in mrml_bridge.read_table(auditTable)] if auditTable else []
            candidates.append(ReviewSession(items, context=context, audit=audit))
        autosave = self._autosavePath(segmentationNode)
        # Only the autosave beside a saved scene belongs to it; one in the temporary folder may be from
        # another scene with a segmentation of the same name (open it with ReviewSession.load if needed).
        if slicer.mrmlScene.GetURL() and autosave.is_file():
            candidates.append(ReviewSession.load(autosave))
        if not candidates:
            return None
        session = max(candidates, key=lambda candidate: len(candidate.audit))
        session.autosave_path = autosave
        self._attachSession(segmentationNode, session)
        self._writeReviewToScene(segmentationNode, session)
        return session

    def exportReview(self, segmentationNode, folder) -> tuple:
        """Write ``<segmentation>.review.csv`` and ``.json`` into ``folder``."""
        session = self.restoreReview(segmentationNode)
        if session is None:
            raise ValueError(_("{name} has not been assessed yet.").format(name=segmentationNode.GetName()))
        return session.export(folder, stem=f"{_safeName(segmentationNode.GetName())}.review")

    def showStructure(self, segmentationNode, volumeNode, structure: str) -> None:
        """Show one structure alone and centre the slice views on its worst slice."""
        from SegQualityReviewLib import mrml_bridge

        session = self.restoreReview(segmentationNode)
        mrml_bridge.show_only_segment(segmentationNode, structure)
        worst = session.item(structure).worst_slice if session else None
        if worst is None:
            return
        key = segmentationNode.GetID()
        if key not in self._structureSets:
            self._structureSets[key] = mrml_bridge.structures_from_segmentation_node(
                segmentationNode, reference_volume_node=volumeNode
            )
        r, a, s = mrml_bridge.slice_center_ras(self._structureSets[key], structure, worst)
        slicer.modules.markups.logic().JumpSlicesToLocation(r, a, s, True)

    def openSegmentEditor(self, segmentationNode, volumeNode, structure: str) -> None:
        """Switch to the Segment Editor with this structure's segment selected."""
        from SegQualityReviewLib import mrml_bridge

        slicer.util.selectModule("SegmentEditor")
        editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
        editor.setSegmentationNode(segmentationNode)
        editor.setSourceVolumeNode(volumeNode)
        editor.setCurrentSegmentID(mrml_bridge.segment_id(segmentationNode, structure))

    def _attachSession(self, segmentationNode, session) -> None:
        session.on_change = lambda item: self._writeReviewToScene(segmentationNode, session)
        self._sessions[segmentationNode.GetID()] = session

    def _writeReviewToScene(self, segmentationNode, session) -> tuple:
        from SegQualityReviewLib import mrml_bridge
        from SegQualityReviewLib.review import COLUMNS

        itemsTable = mrml_bridge.review_table_node(slicer.mrmlScene, segmentationNode, role="items")
        auditTable = mrml_bridge.review_table_node(slicer.mrmlScene, segmentationNode, role="audit")
        mrml_bridge.write_table(itemsTable, [item.as_row() for item in session.items], columns=COLUMNS)
        auditRows = [entry.__dict__ for entry in session.audit]
        mrml_bridge.write_table(auditTable, auditRows, columns=AUDIT_COLUMNS)
        for name, value in session.context.__dict__.items():
            itemsTable.SetAttribute(f"SegQualityReview.{name}", str(value))
        for item in session.items:
            tags = {key: item.as_row()[key] for key in SEGMENT_TAG_KEYS}
            try:
                mrml_bridge.set_segment_tags(segmentationNode, item.structure, tags)
            except mrml_bridge.MRMLBridgeError:
                logging.warning(f"{segmentationNode.GetName()}: segment '{item.structure}' no longer exists")
        return itemsTable, auditTable

    def _autosavePath(self, segmentationNode) -> Path:
        from SegQualityReviewLib.review import autosave_path_for

        return autosave_path_for(
            slicer.mrmlScene.GetURL() or None,
            fallback_folder=self.autosaveFolder,
            segmentation=segmentationNode.GetName(),
        )

    # Segmenters

    def availableSegmenters(self) -> list:
        """Names of the segmenters that can run here without a model config (``segquality models``)."""
        from SegQualityReviewLib.segmenters import available_models

        return [
            info.name
            for info in available_models()
            if info.available and info.name not in ("torch", "nnunet") and not info.name.startswith("masks:")
        ]

    def segment(self, volumeNode, model: str, *, progress: Optional[Callable[[float, str], None]] = None):
        """Run segmenter ``model`` on ``volumeNode`` in a separate process (blocking); returns the new
        segmentation node, one segment per structure."""
        from SegQualityReviewLib import mrml_bridge
        from SegQualityReviewLib.segmenters import read_segmentation

        folder = Path(tempfile.mkdtemp(prefix="SegQualityReview-segment-", dir=self.workFolder))
        image = _writeVolume(mrml_bridge.volume_from_node(volumeNode), folder / "image.nii.gz")
        output = folder / "segmentation.nii.gz"
        command = [
            _pythonExecutable(),
            "-m",
            "SegQualityReviewLib",
            "segment",
            "--image",
            str(image),
            "--model",
            model,
            "--out",
            str(output),
        ]
        run = _jobRun(self._launch(command), folder=folder, context={})
        run.wait(progress=progress)
        run.check(_("Segmenter {model}").format(model=model))
        structures = read_segmentation(output, reference=mrml_bridge.volume_from_node(volumeNode).geometry)
        node = mrml_bridge.add_segmentation_node(
            slicer.mrmlScene,
            structures,
            name=f"{volumeNode.GetName()} {model}",
            reference_volume_node=volumeNode,
        )
        shutil.rmtree(folder, ignore_errors=True)
        return node

    # Batch

    def batchConfig(
        self,
        *,
        configPath=None,
        referenceFolder=None,
        predictionFolders="",
        casesCsv=None,
        modelCardsFolder=None,
    ):
        """The comparison config: an existing YAML file when given, else one built from the Batch fields."""
        from SegQualityReviewLib.review import compare_config

        if configPath and str(configPath) not in ("", "."):
            return Path(configPath)
        return compare_config(
            reference_folder=referenceFolder,
            predictions=predictionFolders,
            cases_csv=casesCsv,
            model_cards_folder=modelCardsFolder,
        )

    def compare(
        self,
        config,
        *,
        outputFolder,
        workers: Optional[int] = None,
        progress: Optional[Callable[[float, str], None]] = None,
    ):
        """Run ``segquality compare`` on ``config`` (a YAML path or a dict) into ``outputFolder``
        (blocking); returns a ``CompareResult`` with the summary table node and the report path.
        ``workers``: scoring processes (default: one per CPU); ``progress(fraction, message)`` is called
        as cells are scored, then for the analysis and the report, and with 1.0 at the end."""
        run = self.startCompare(config, outputFolder=outputFolder, workers=workers)
        run.wait(progress=progress)
        return self.finishCompare(run)

    def startCompare(self, config, *, outputFolder, workers: Optional[int] = None) -> "JobRun":
        """Start ``segquality compare`` in a separate process; returns the run to poll, cancel or wait on.

        The process prints progress lines (``--progress-lines``), so ``run.poll()`` gives the fraction done.
        """
        import yaml

        from SegQualityReviewLib.review import CompareInputError

        if str(outputFolder) in ("", "."):
            raise CompareInputError("choose an output folder for the comparison")
        outputFolder = Path(outputFolder)
        outputFolder.mkdir(parents=True, exist_ok=True)
        if isinstance(config, dict):
            from SegQualityReviewLib.io.outputs import sibling

            # Beside the output folder, not in it: compare replaces that folder as a whole.
            path = sibling(outputFolder, "compare.yaml")
            path.write_text(yaml.safe_dump(config), encoding="utf-8")
            config = path
        command = [
            _pythonExecutable(),
            "-m",
            "SegQualityReviewLib",
            "compare",
            "--config",
            str(config),
            "--out",
            str(outputFolder),
            "--progress-lines",
        ]
        if workers:
            command += ["--workers", str(int(workers))]
        return _jobRun(self._launch(command), folder=outputFolder, context={"config": Path(config)})

    def finishCompare(self, run: "JobRun") -> "CompareResult":
        """Read a finished comparison: summary rows into a table node, the worst cases, the report."""
        import json

        from SegQualityReviewLib import mrml_bridge
        from SegQualityReviewLib.review import summary_rows, worst_case_rows

        run.check(_("The comparison"))
        results = json.loads((run.folder / "results.json").read_text(encoding="utf-8"))
        summaryRows = summary_rows(results)
        table = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", f"Comparison {run.folder.name}")
        mrml_bridge.write_table(table, summaryRows, columns=list(summaryRows[0]) if summaryRows else [])
        report = run.folder / "report.html"
        return CompareResult(
            outputFolder=run.folder,
            results=results,
            summaryRows=summaryRows,
            worstCases=worst_case_rows(results),
            summaryTableNode=table,
            reportPath=report if report.is_file() else None,
        )

    def loadCase(self, result: "CompareResult", case: dict) -> list:
        """Load a case's image, reference and every model's prediction into the scene."""
        from SegQualityReviewLib.review import case_files

        loaded = []
        for role, path in case_files(result.results, str(case["case_id"])).items():
            if role == "image":
                loaded.append(slicer.util.loadVolume(str(path)))
            else:
                node = slicer.util.loadSegmentation(str(path))
                node.SetName(f"{case['case_id']} {role}")
                loaded.append(node)
        return loaded


AUDIT_COLUMNS = ("structure", "decision", "previous_decision", "note", "reviewer", "at")
SEGMENT_TAG_KEYS = ("flag", "predicted_dice", "decision", "note", "reviewer", "decided_at")


@dataclass(frozen=True)
class CompareResult:
    """What ``compare`` returns: the output folder, summary and worst-case rows, their table node, the report."""

    outputFolder: Path
    results: dict
    summaryRows: list
    worstCases: list
    summaryTableNode: object
    reportPath: Optional[Path]


def _pythonExecutable() -> str:
    """Slicer's Python interpreter (PythonSlicer) inside Slicer, where sys.executable is the application."""
    return shutil.which("PythonSlicer") or sys.executable


def _startProcess(command: list):
    from SegQualityReviewLib.review import start_process

    return start_process(command)


def _jobRun(process, *, folder, context):
    from SegQualityReviewLib.review import JobRun

    return JobRun(process, folder=folder, context=context)


def _requirementNames(requirements: Path) -> list:
    import re

    lines = requirements.read_text(encoding="utf-8").splitlines()
    return [
        re.split(r"[<>=!~\[; ]", line.strip())[0]
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


def _isInstalled(distribution: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _writeVolume(volume, path: Path) -> Path:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(volume.array)
    volume.geometry.apply_to(image)
    sitk.WriteImage(image, str(path))
    return path


def _contextFromAttributes(tableNode) -> dict:
    values = {}
    for name in ("volume", "segmentation", "reference", "threshold"):
        value = tableNode.GetAttribute(f"SegQualityReview.{name}")
        if value is not None:
            values[name] = float(value) if name == "threshold" else value
    return values


def _safeName(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "segmentation"


#
# SegQualityReviewTest
#


class SegQualityReviewTest(ScriptedLoadableModuleTest):  # noqa: F405
    """In-Slicer test: assess a volume it builds, decide, save the scene, reload it, find the review."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_assess_decide_save_and_reload()

    def test_assess_decide_save_and_reload(self) -> None:
        import numpy as np

        from SegQualityReviewLib import mrml_bridge
        from SegQualityReviewLib.io import Geometry, StructureSet, Volume

        self.delayDisplay("Building a volume, a segmentation and a reference")
        geometry = Geometry(size=(24, 20, 12), spacing=(1.0, 1.0, 2.0), origin=(-10.0, 5.0, 3.0))
        reference = np.zeros(geometry.array_shape, bool)
        reference[3:9, 5:15, 6:18] = True
        shifted = np.roll(reference, 3, axis=2)
        volume = Volume(array=reference.astype(np.float32) * 100, geometry=geometry, source="test")
        volumeNode = mrml_bridge.add_volume_node(slicer.mrmlScene, volume, name="TestVolume")
        segmentationNode = mrml_bridge.add_segmentation_node(
            slicer.mrmlScene,
            StructureSet.from_masks({"good": reference, "shifted": shifted}, geometry),
            name="TestSegmentation",
            reference_volume_node=volumeNode,
        )
        referenceNode = mrml_bridge.add_segmentation_node(
            slicer.mrmlScene,
            StructureSet.from_masks({"good": reference, "shifted": reference}, geometry),
            name="TestReference",
            reference_volume_node=volumeNode,
        )

        self.delayDisplay("Assessing against the reference")
        logic = SegQualityReviewLogic()
        result = logic.assess(volumeNode, segmentationNode, referenceNode, threshold=0.9, useEstimator=False)
        self.assertEqual([item.structure for item in result.items], ["shifted", "good"])
        self.assertAlmostEqual(result.items[1].true_dice, 1.0)
        self.assertLess(result.items[0].true_dice, 0.9)
        self.assertEqual(result.itemsTableNode.GetNumberOfRows(), 2)

        self.delayDisplay("Deciding, saving and reloading the scene")
        logic.decide(segmentationNode, "shifted", "rejected", note="shifted by 3 voxels", reviewer="test")
        folder = Path(tempfile.mkdtemp(prefix="SegQualityReviewTest-"))
        sceneFile = folder / "review.mrb"
        self.assertTrue(slicer.util.saveScene(str(sceneFile)))
        slicer.mrmlScene.Clear()
        slicer.util.loadScene(str(sceneFile))
        reloaded = slicer.util.getFirstNodeByClassByName("vtkMRMLSegmentationNode", "TestSegmentation")
        session = SegQualityReviewLogic().restoreReview(reloaded)
        self.assertIsNotNone(session)
        self.assertEqual(session.item("shifted").decision.value, "rejected")
        self.assertEqual(session.item("shifted").note, "shifted by 3 voxels")
        self.assertEqual(
            mrml_bridge.segment_tags(reloaded, "shifted", keys=["decision"]), {"decision": "rejected"}
        )
        shutil.rmtree(folder, ignore_errors=True)
        self.delayDisplay("Test passed")
