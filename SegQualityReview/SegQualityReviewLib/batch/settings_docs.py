"""The config's keys as rows of the docs' table, read from the settings dataclasses (docs/batch.md).

``key_rows(ConfigFile)`` walks every section, so the table cannot drift from what ``load_config``
checks: ``Testing/batch/test_batch_config.py`` asserts docs/batch.md has a row per key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .settings_schema import Rule, TypeSpec, describe, field_rule, field_type, yaml_fields


@dataclass(frozen=True)
class KeyRow:
    """One config key for the docs' table: its dotted name, type, allowed values, default and meaning."""

    key: str
    type: str
    allowed: str
    default: str
    doc: str


def key_rows(cls: type, *, prefix: str = "") -> list[KeyRow]:
    """Every key of a settings section and of the sections inside it, depth first (``models[].name``)."""
    found = []
    for field in yaml_fields(cls):
        rules = field_rule(field)
        spec = field_type(cls, field)
        key = f"{prefix}{field.name}"
        if field.default is not dataclasses.MISSING:
            default = "" if dataclasses.is_dataclass(field.default) else _default_words(field.default)
        else:
            default = "required" if field.default_factory is dataclasses.MISSING else ""
        found.append(KeyRow(key, describe(spec), range_words(rules), default, rules.doc))
        for option in _options(spec):
            if option.section is not None:
                found += key_rows(option.section, prefix=f"{key}.")
            elif (
                option.name in ("tuple", "list")
                and option.arguments
                and option.arguments[0].section is not None
            ):
                found += key_rows(option.arguments[0].section, prefix=f"{key}[].")
    return found


def _options(spec: TypeSpec) -> tuple[TypeSpec, ...]:
    return spec.arguments if spec.name == "|" else (spec,)


def _default_words(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value) if value else "none"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value or "empty"
    return f"{value:g}" if isinstance(value, float) else str(value)


def range_words(field_rule: Rule) -> str:
    """The rule in words for the docs' key table: ``above 0``, ``one of surfel, voxel``."""
    parts = []
    if field_rule.choices:
        parts.append("one of " + ", ".join(str(choice) for choice in field_rule.choices))
    for bound, words in (
        (field_rule.minimum, ">="),
        (field_rule.above, ">"),
        (field_rule.maximum, "<="),
        (field_rule.below, "<"),
    ):
        if bound is not None:
            parts.append(f"{words} {bound:g}")
    if field_rule.non_empty:
        parts.append("not empty")
    return ", ".join(parts)
