"""Missing data, made explicit: what a blank value means, which structures a model segments, how cases align.

The top-level ``missing:`` section of a comparison config (``MissingDataSettings``):

- ``blank``: a score-table row with no value and no status is refused (``refuse``, the default) unless the
  study says what a blank means: ``not_evaluable`` (the structure is absent from that patient by nature, as
  in Touchstone's tables: out of every aggregate, like ``both_empty``) or ``failed`` (the model produced
  nothing usable: imputed with the family's worst observed value).
- ``alignment``: ``complete_cases`` (a family uses the cases every model has a value for; the default) or
  ``per_pair`` (each model's estimate uses its own cases and each pair the cases both have, so one model's
  gaps do not remove cases for the others).

``resolve.resolve_table`` applies the policy and the model cards' structure lists to a checked long table
and counts every cell each rule touched. Kept free of pandas so the config can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .settings_schema import check_instance, rule

BLANK_POLICIES = ("refuse", "not_evaluable", "failed")
ALIGNMENTS = ("complete_cases", "per_pair")


@dataclass(frozen=True)
class MissingDataSettings:
    """The ``missing:`` section: what a blank value means and how cases align across models."""

    blank: str = field(
        default="refuse",
        metadata=rule(choices=BLANK_POLICIES, doc="a blank value without a status: refuse it, or its status"),
    )
    alignment: str = field(
        default="complete_cases",
        metadata=rule(choices=ALIGNMENTS, doc="cases every model has, or each pair's shared cases"),
    )

    def __post_init__(self) -> None:
        check_instance(self, where="missing")

    def as_dict(self) -> dict[str, Any]:
        return {"blank": self.blank, "alignment": self.alignment}

    @classmethod
    def from_dict(cls, content: Mapping[str, Any]) -> MissingDataSettings:
        return cls(
            blank=str(content.get("blank", "refuse")),
            alignment=str(content.get("alignment", "complete_cases")),
        )
