"""Label maps (label value -> structure name), so structures are matched by name, never by id alone."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InputFileError, LabelMapError

_BACKGROUND_NAMES = {"background", "bg", "clearlabel", "unlabeled", "unlabelled"}


def normalize_structure_name(name: str) -> str:
    """The key two names are matched on: case, spaces, hyphens and underscores ignored.

    "Spinal-Cord", "spinal_cord" and "spinal cord" are one structure, and so are "Liver" and "li-ver".
    """
    return re.sub(r"[\s\-_]+", "", name.strip().lower())


def same_name_message(source: str, first: str, second: str) -> str:
    """The one-line refusal of two structure names (described by the caller) that normalise alike."""
    return (
        f"{source}: {first} and {second} are the same structure name once case, spaces, hyphens and "
        "underscores are ignored, so matching by name would be ambiguous; rename one"
    )


@dataclass(frozen=True)
class LabelMap:
    """Structure names by label value (background excluded), and the file they came from."""

    names_by_value: Mapping[int, str]
    source: str = "<default>"
    _values_by_key: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values_by_key: dict[str, int] = {}
        for value, name in self.names_by_value.items():
            key = normalize_structure_name(name)
            if key in values_by_key:
                first = values_by_key[key]
                raise LabelMapError(
                    same_name_message(
                        self.source,
                        f"'{self.names_by_value[first]}' (label {first})",
                        f"'{name}' (label {value})",
                    )
                )
            values_by_key[key] = value
        object.__setattr__(self, "_values_by_key", values_by_key)

    @classmethod
    def load(cls, path: str | Path) -> LabelMap:
        """Read a JSON label map: ``{"labels": {"1": "liver", ...}}`` or the bare ``{"1": "liver", ...}``.

        A UTF-8 byte-order mark is accepted (Windows editors write one); a label value given twice is an
        error, since JSON parsers silently keep only the last.
        """
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"{path}: label map file not found")
        try:
            content = json.loads(
                path.read_text(encoding="utf-8-sig"), object_pairs_hook=_refuse_duplicate_keys
            )
        except _DuplicateKeyError as error:
            raise LabelMapError(f"{path}: label value '{error}' is given twice") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise LabelMapError(f"{path}: not a readable JSON label map ({detail})") from None
        table = content.get("labels", content) if isinstance(content, dict) else None
        if not isinstance(table, dict):
            raise LabelMapError(f"{path}: expected a JSON object mapping label values to names")
        names_by_value = {}
        for value_text, name in table.items():
            try:
                value = int(value_text)
            except ValueError:
                if value_text == "note":
                    continue
                raise LabelMapError(f"{path}: label value '{value_text}' is not an integer") from None
            if value < 0:
                raise LabelMapError(f"{path}: label value {value} is negative (label images hold 0 and up)")
            if not isinstance(name, str) or not name.strip():
                raise LabelMapError(f"{path}: label {value} has no name")
            if value == 0 or normalize_structure_name(name) in _BACKGROUND_NAMES:
                continue
            names_by_value[value] = name.strip()
        if not names_by_value:
            raise LabelMapError(f"{path}: the label map names no structure")
        return cls(names_by_value=names_by_value, source=str(path))

    @classmethod
    def default_for(cls, values: Iterable[int], *, source: str = "<default>") -> LabelMap:
        """Names ``label_<value>`` for every non-zero value: the convention when no label map is given."""
        return cls(
            names_by_value={int(v): f"label_{int(v)}" for v in sorted(values) if int(v) != 0}, source=source
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.names_by_value[v] for v in sorted(self.names_by_value))

    def value_of(self, name: str) -> int | None:
        """The label value of a structure name (matched as ``normalize_structure_name`` does), or None."""
        return self._values_by_key.get(normalize_structure_name(name))

    def check_values(self, values: Iterable[int], *, image_name: str) -> None:
        """Raise ``LabelMapError`` when ``image_name`` holds non-zero values this label map does not name."""
        unknown = sorted(int(v) for v in values if int(v) != 0 and int(v) not in self.names_by_value)
        if unknown:
            shown = ", ".join(str(v) for v in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise LabelMapError(f"{image_name}: label values {shown} are not in the label map {self.source}")


class _DuplicateKeyError(ValueError):
    """A JSON object names one key twice (carries the key)."""


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for key, value in pairs:
        if key in content:
            raise _DuplicateKeyError(key)
        content[key] = value
    return content
