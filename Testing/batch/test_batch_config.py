"""Comparison configs, model cards and the contamination rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from SegQualityReviewLib.batch import BatchConfigError, ModelCard, contamination_decisions, load_config
from SegQualityReviewLib.batch.config import config_hash
from SegQualityReviewLib.errors import SegQualityError


def write_config(folder: Path, text: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_paths_resolve_against_the_config_folder_and_cards_load(tmp_path):
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "b.yaml").write_text("version: '2'\ntraining_datasets: [AMOS]\n", encoding="utf-8")
    path = write_config(
        tmp_path,
        "dataset: {name: BraTS/2021/val}\n"
        "ground_truth: {dir: gt, label_map: labels.json}\n"
        "models:\n"
        "  - {name: a, dir: pred/a, card: {version: '1', training_datasets: [BraTS/2021]}}\n"
        "  - {name: b, dir: pred/b, card: cards/b.yaml}\n"
        "analysis: {metrics: [dice], n_resamples: 500, seed: 3, equivalence_margins: {dice: 0.02}}\n",
    )
    config = load_config(path, workers=1)
    assert config.gt_dir == tmp_path / "gt" and config.gt_label_map == tmp_path / "labels.json"
    assert [m.prediction_dir for m in config.models] == [tmp_path / "pred/a", tmp_path / "pred/b"]
    assert config.analysis.metrics == ("dice",) and config.analysis.seed == 3
    assert (
        config.analysis.equivalence_margin("dice") == 0.02
        and config.analysis.equivalence_margin("nsd") is None
    )
    cards = config.analysis.cards_by_model
    assert cards["a"].training_datasets == ("BraTS/2021",) and cards["b"].version == "2"


def test_config_hash_ignores_workers_but_not_settings(tmp_path):
    path = write_config(tmp_path, "ground_truth: {dir: gt}\nmodels: [{name: a, dir: a}]\n")
    one, two = load_config(path, workers=1), load_config(path, workers=2)
    assert config_hash(one.as_dict()) == config_hash(two.as_dict())
    path.write_text(
        "ground_truth: {dir: gt}\nmodels: [{name: a, dir: a}]\nanalysis: {seed: 1}\n", encoding="utf-8"
    )
    assert config_hash(load_config(path).as_dict()) != config_hash(one.as_dict())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [{name: a, dir: a}]\n", "ground_truth is required"),
        ("ground_truth: {label_map: l.json}\nmodels: [{name: a, dir: a}]\n", "ground_truth.dir is required"),
        ("ground_truth: {dir: gt}\nmodels: [{name: a, dir: a}, {name: a, dir: b}]\n", "given twice"),
        (
            "ground_truth: {dir: gt}\nmodels: [{name: a, dir: a}]\nanalysis: {bootstraps: 5}\n",
            "unknown key 'analysis.bootstraps'",
        ),
        (
            "ground_truth: {dir: gt}\nmodels: [{name: a, dir: a}]\nanalysis: {n_resamples: 5}\n",
            "at least 100",
        ),
        ("ground_truth: {dir: gt}\nmodels: []\n", "no model to compare"),
        (
            "ground_truth: {dir: gt}\nmodels: [{name: a, dir: a, card: {training_datasets: BraTS}}]\n",
            "must be a list",
        ),
    ],
)
def test_malformed_configs_raise_one_line_errors(tmp_path, text, message):
    with pytest.raises(BatchConfigError, match=message) as raised:
        load_config(write_config(tmp_path, text))
    assert isinstance(raised.value, SegQualityError) and "\n" not in str(raised.value)


def test_a_card_listing_the_dataset_its_parent_or_a_part_is_contaminated_and_sibling_splits_are_not():
    cards = {
        "parent": ModelCard("parent", training_datasets=("brats/2021",)),
        "itself": ModelCard("itself", training_datasets=("BraTS/2021/val",)),
        "sibling": ModelCard("sibling", training_datasets=("BraTS/2021/train", "KiTS")),
        "prefix_only": ModelCard("prefix_only", training_datasets=("BraTS/20",)),
    }
    models = ["parent", "itself", "sibling", "prefix_only", "no_card"]
    decisions = {d.model: d for d in contamination_decisions(models, cards, dataset_name="BraTS/2021/val")}
    assert (
        decisions["parent"].contaminated and "a parent of the evaluated dataset" in decisions["parent"].reason
    )
    assert decisions["itself"].contaminated and "the evaluated dataset itself" in decisions["itself"].reason
    assert not decisions["sibling"].contaminated and not decisions["prefix_only"].contaminated
    assert not decisions["no_card"].contaminated and "no model card" in decisions["no_card"].reason
    whole = {d.model: d for d in contamination_decisions(models, cards, dataset_name="BraTS/2021")}
    assert whole["sibling"].contaminated and "a part of the evaluated dataset" in whole["sibling"].reason
    unnamed = contamination_decisions(["parent"], cards, dataset_name="")
    assert not unnamed[0].contaminated and "not checked" in unnamed[0].reason


def test_docs_list_every_config_key_with_its_type():
    """docs/batch.md's key table is the config's layout: a key added to a section must get its row."""
    from SegQualityReviewLib.batch.config import ConfigFile
    from SegQualityReviewLib.batch.settings_docs import key_rows

    docs = (Path(__file__).resolve().parents[2] / "docs" / "batch.md").read_text(encoding="utf-8")
    for row in key_rows(ConfigFile):
        assert f"| `{row.key}` | {row.type} |" in docs, f"docs/batch.md lacks the row of config key {row.key}"


def test_every_unknown_key_names_the_nearest_valid_one(tmp_path):
    base = "ground_truth: {dir: gt}\nmodels: [{name: a, dir: a}]\n"
    for typo, expected in (
        ("scorings: {}\n", "unknown key 'scorings' (did you mean 'scoring'?)"),
        ("analysis: {metric: [dice]}\n", "unknown key 'analysis.metric' (did you mean 'metrics'?)"),
        (
            "scoring: {nsd_tolerance: 1}\n",
            "unknown key 'scoring.nsd_tolerance' (did you mean 'nsd_tolerance_mm'?)",
        ),
    ):
        with pytest.raises(BatchConfigError) as raised:
            load_config(write_config(tmp_path, base + typo))
        assert str(raised.value).endswith(expected)


def test_config_fields_are_checked_for_type_and_range_naming_the_key(tmp_path):
    base = "ground_truth: {dir: gt}\nmodels: [{name: a, dir: a}]\n"
    with pytest.raises(BatchConfigError, match=r"scoring.nsd_tolerance_mm: expected a number, got 'abc'"):
        load_config(write_config(tmp_path, base + "scoring: {nsd_tolerance_mm: abc}\n"))
    with pytest.raises(BatchConfigError, match=r"analysis.confidence_level: must be below 1, got 1.5"):
        load_config(write_config(tmp_path, base + "analysis: {confidence_level: 1.5}\n"))
    # The same rules hold for settings built in Python or from flags.
    from SegQualityReviewLib.batch import ScoringSettings

    with pytest.raises(BatchConfigError, match=r"scoring.nsd_tolerance_mm: expected a finite number"):
        ScoringSettings(nsd_tolerance_mm=float("nan"))
