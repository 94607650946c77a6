"""Errors a batch comparison reports as one line: a bad config, case table, model card or score table."""

from ..errors import SegQualityError


class BatchConfigError(SegQualityError):
    """The comparison config (YAML or flags), a model card or the case table is missing or malformed."""


class ScoreTableError(SegQualityError):
    """A long-format score table lacks a required column or holds values it cannot hold."""


class ResultsFileError(SegQualityError):
    """A results.json (or the cases.csv beside it) is missing or not one this package wrote."""
