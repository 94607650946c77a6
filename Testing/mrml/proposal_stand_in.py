"""A stand-in for the MedSAM proposal's worker process: the Logic, the job folder, the process runner and
the scene all run for real, only LiteMedSAM is replaced by a known answer (the job's own mask, moved)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from SegQualityReviewLib.review import ReviewItem, start_process
from SegQualityReviewLib.review.items import Flag
from SegQualityReviewLib.review.proposals import JOB_ARRAYS, JOB_SETTINGS, RESULT_MASK, RESULT_RECORD


def stand_in_proposal_worker(shift: int = 1, started: list | None = None):
    """A launcher whose proposal 'worker' writes the job's own mask moved by ``shift`` voxels as the proposal."""

    def launch(command):
        if "SegQualityReviewLib.review.proposal_worker" not in command:
            return start_process(command)  # the assessment runs for real
        folder = Path(command[-1])
        settings = json.loads((folder / JOB_SETTINGS).read_text(encoding="utf-8"))
        with np.load(folder / JOB_ARRAYS) as arrays:
            mask = np.roll(arrays["mask"], shift, axis=2)
        np.savez_compressed(folder / RESULT_MASK, mask=mask)
        item = ReviewItem(structure=settings["structure"], flag=Flag.FINE, predicted_dice=0.91, worst_slice=5)
        record = {
            "item": item.as_dict(),
            "prompt": "own_boxes" if settings["box"] is None else "roi_box",
            "box_ijk": ",".join(str(v) for v in settings["box"] or (0, 0, 0, 1, 1, 1)),
            "prompted_slices": 6,
            "model_version": "LiteMedSAM (stand-in)",
            "medsam": {},
        }
        (folder / RESULT_RECORD).write_text(json.dumps(record), encoding="utf-8")
        runner = start_process([sys.executable, "-c", "print('PROGRESS 1.0 done', flush=True)"])
        if started is not None:
            started.append((runner, settings))
        return runner

    return launch
