"""Checking a config mapping against frozen settings dataclasses: every key known, every value typed and in range.

A section of the YAML config is a dataclass; its fields are the section's keys. Each field's annotation
gives the expected type and ``field(metadata=rule(...))`` its range or choices, so a section added later
is checked by declaring its fields, nothing else. Annotations are read as text and parsed here (never
evaluated), so ``float | None`` works on Python 3.9, which Slicer 5.6 ships.

Errors are one line naming the key, e.g. ``study.yaml: scoring.nsd_tolerance_mm: expected a number, got
'abc'`` or ``study.yaml: unknown key 'scorings' (did you mean 'scoring'?)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import BatchConfigError

_METADATA_KEY = "segquality_rule"


@dataclass(frozen=True)
class Rule:
    """What a field's values must satisfy beyond their type (applied to each item of a list or mapping)."""

    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    non_empty: bool = False
    in_yaml: bool = True
    yaml_type: str = ""
    doc: str = ""


def rule(**options: Any) -> dict[str, Rule]:
    """Field metadata: ``field(default=2.0, metadata=rule(above=0, doc="NSD tolerance in mm"))``.

    Options: ``choices``, ``minimum``/``maximum`` (inclusive), ``above``/``below`` (exclusive),
    ``non_empty`` (a list needs an item), ``in_yaml=False`` (not a config key), ``yaml_type`` (the type
    the YAML gives when it differs from the field's, e.g. a mapping for a tuple of pairs), ``doc``.
    """
    return {_METADATA_KEY: Rule(**options)}


@dataclass(frozen=True)
class TypeSpec:
    """A parsed annotation: a name (``int``, ``tuple``, ``|`` for a union), its arguments, and for a
    nested settings section its dataclass."""

    name: str
    arguments: tuple[TypeSpec, ...] = ()
    section: type | None = None


def yaml_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of a settings dataclass that are config keys."""
    return [f for f in dataclasses.fields(cls) if field_rule(f).in_yaml and not f.name.startswith("_")]


def section_values(cls: type, content: Any, *, where: str, source: str) -> dict[str, Any]:
    """The checked, converted values of one config section (a mapping) for ``cls``'s fields.

    Only keys present in ``content`` are returned, nested sections as checked dicts (the caller builds
    the records, resolving paths); a missing field without a default is an error.
    """
    if content is None:
        content = {}
    if not isinstance(content, Mapping):
        raise BatchConfigError(
            f"{source}: {where or 'the config'}: expected a mapping of keys, got {_shown(content)}"
        )
    fields = {f.name: f for f in yaml_fields(cls)}
    for key in content:
        if not isinstance(key, str) or key not in fields:
            raise BatchConfigError(f"{source}: unknown key {_key(where, key)!r}{_suggestion(key, fields)}")
    values = {}
    for name, field in fields.items():
        key = _key(where, name)
        if name not in content:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise BatchConfigError(f"{source}: {key} is required")
            continue
        values[name] = checked_value(
            content[name], field_type(cls, field), field_rule(field), key=key, source=source
        )
    return values


def check_instance(instance: Any, *, where: str) -> None:
    """Check an already built settings record (from flags or Python) against its fields' types and rules."""
    cls = type(instance)
    for field in yaml_fields(cls):
        checked_value(
            getattr(instance, field.name),
            parse_type(field.type, namespace=_namespace(cls)),
            field_rule(field),
            key=_key(where, field.name),
            source="",
        )


def checked_value(value: Any, spec: TypeSpec, rules: Rule, *, key: str, source: str) -> Any:
    """``value`` converted to ``spec`` (lists to tuples, sections checked) and checked against ``rules``."""
    converted = _convert(value, spec, key=key, source=source)
    _apply_rule(converted, rules, key=key, source=source)
    return converted


def field_type(cls: type, field: dataclasses.Field) -> TypeSpec:
    """The type a field takes in the YAML: its ``rule(yaml_type=)`` or its annotation, parsed."""
    return parse_type(field_rule(field).yaml_type or field.type, namespace=_namespace(cls))


def parse_type(annotation: Any, *, namespace: Mapping[str, Any]) -> TypeSpec:
    """Parse an annotation string such as ``tuple[tuple[str, float], ...]`` or ``str | None``."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    tokens = re.findall(r"\.\.\.|[A-Za-z_][A-Za-z_0-9.]*|[\[\],|]", text)
    spec, position = _parse_union(tokens, 0)
    if position != len(tokens):
        raise TypeError(f"cannot read the annotation {text!r}")
    return _resolve_names(spec, namespace)


def describe(spec: TypeSpec) -> str:
    """The type in the words of the docs' key table: ``number``, ``list of text``, ``mapping``."""
    if spec.name == "|":
        return " or ".join(describe(option) for option in spec.arguments)
    if spec.name in ("tuple", "list", "Sequence"):
        return f"list of {describe(spec.arguments[0])}" if spec.arguments else "list"
    if spec.name in ("Mapping", "dict"):
        return f"mapping of {describe(spec.arguments[1])}" if len(spec.arguments) == 2 else "mapping"
    return _WORDS.get(spec.name, "mapping")


_WORDS = {
    "int": "whole number",
    "float": "number",
    "str": "text",
    "bool": "true/false",
    "None": "null",
    "Path": "path",
    "Any": "anything",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Scalar types: (accepts the YAML value, converts it, what the error says was expected). YAML's booleans
# are not numbers here, and a path must be non-empty text.
_SCALARS: dict[str, tuple[Callable[[Any], bool], Callable[[Any], Any], str]] = {
    "None": (lambda v: v is None, lambda v: v, "null"),
    "bool": (lambda v: isinstance(v, bool), lambda v: v, "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v, "a whole number"),
    "float": (_is_number, float, "a number"),
    "str": (lambda v: isinstance(v, str), lambda v: v, "text"),
    "Path": (lambda v: isinstance(v, (str, Path)) and bool(str(v).strip()), Path, "a path"),
}


def _convert(value: Any, spec: TypeSpec, *, key: str, source: str) -> Any:
    name = spec.name
    if name == "|":
        shaped_error = None
        for option in spec.arguments:
            try:
                return _convert(value, option, key=key, source=source)
            except BatchConfigError as error:
                # A mapping given for a section option: that section's own error says what is wrong inside.
                if shaped_error is None and _same_shape(value, option):
                    shaped_error = error
        raise shaped_error or _error(source, key, f"expected {describe(spec)}, got {_shown(value)}")
    if name == "Any":
        return value
    if name in _SCALARS:
        accepts, convert, expected = _SCALARS[name]
        if not accepts(value):
            raise _error(source, key, f"expected {expected}, got {_shown(value)}")
        if name == "float" and not math.isfinite(value):
            raise _error(source, key, f"expected a finite number, got {_shown(value)}")
        return convert(value)
    if name in ("tuple", "list", "Sequence"):
        return _convert_sequence(value, spec, key=key, source=source)
    if name in ("Mapping", "dict"):
        if not isinstance(value, Mapping):
            raise _error(source, key, f"expected a mapping, got {_shown(value)}")
        key_spec, value_spec = (
            spec.arguments if len(spec.arguments) == 2 else (TypeSpec("Any"), TypeSpec("Any"))
        )
        return {
            _convert(k, key_spec, key=f"{key}.{k}", source=source): _convert(
                v, value_spec, key=f"{key}.{k}", source=source
            )
            for k, v in value.items()
        }
    cls = spec.section
    if cls is None:
        raise TypeError(f"{key}: unknown type {name!r} in a settings annotation")
    if dataclasses.is_dataclass(value) and isinstance(value, cls):
        return value
    return section_values(cls, value, where=key, source=source)


def _convert_sequence(value: Any, spec: TypeSpec, *, key: str, source: str) -> tuple:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise _error(
            source,
            key,
            f"must be a list of {describe(spec.arguments[0]) if spec.arguments else 'items'}, got {_shown(value)}",
        )
    arguments = spec.arguments
    if len(arguments) == 2 and arguments[1].name == "...":
        item_specs = [arguments[0]] * len(value)
    elif arguments and spec.name == "tuple":
        if len(value) != len(arguments):
            raise _error(source, key, f"expected a list of {len(arguments)} items, got {len(value)}")
        item_specs = list(arguments)
    else:
        item_specs = [arguments[0] if arguments else TypeSpec("Any")] * len(value)
    return tuple(
        _convert(item, item_spec, key=f"{key}[{index}]", source=source)
        for index, (item, item_spec) in enumerate(zip(value, item_specs))
    )


def _apply_rule(value: Any, rules: Rule, *, key: str, source: str) -> None:
    if rules.non_empty and isinstance(value, (tuple, list, dict)) and not value:
        raise _error(source, key, "must not be empty")
    if isinstance(value, Mapping):
        items = [(f"{key}.{k}", v) for k, v in value.items()]
    elif isinstance(value, (tuple, list)):
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    else:
        items = [(key, value)]
    for item_key, item in items:
        if rules.choices and item not in rules.choices:
            options = ", ".join(str(choice) for choice in rules.choices)
            raise _error(source, item_key, f"expected one of {options}, got {_shown(item)}")
        if not isinstance(item, (int, float)) or isinstance(item, bool):
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise _error(source, item_key, f"expected a finite number, got {_shown(item)}")
        for bound, holds, words in (
            (rules.minimum, lambda v, b: v >= b, "at least"),
            (rules.maximum, lambda v, b: v <= b, "at most"),
            (rules.above, lambda v, b: v > b, "above"),
            (rules.below, lambda v, b: v < b, "below"),
        ):
            if bound is not None and not holds(item, bound):
                raise _error(source, item_key, f"must be {words} {bound:g}, got {_shown(item)}")


def _namespace(cls: type) -> Mapping[str, Any]:
    return vars(sys.modules[cls.__module__])


def field_rule(field: dataclasses.Field) -> Rule:
    """The ``rule(...)`` of a field (the default rule when it has none)."""
    return field.metadata.get(_METADATA_KEY, Rule())


def _parse_union(tokens: list[str], position: int) -> tuple[TypeSpec, int]:
    options = []
    spec, position = _parse_term(tokens, position)
    options.append(spec)
    while position < len(tokens) and tokens[position] == "|":
        spec, position = _parse_term(tokens, position + 1)
        options.append(spec)
    return (options[0] if len(options) == 1 else TypeSpec("|", tuple(options))), position


def _parse_term(tokens: list[str], position: int) -> tuple[TypeSpec, int]:
    token = tokens[position]
    # "typing.Optional" reads as "Optional"; "..." (the rest of a tuple) stays as it is.
    name = token if token == "..." else token.split(".")[-1]
    position += 1
    arguments = []
    if position < len(tokens) and tokens[position] == "[":
        position += 1
        while True:
            argument, position = _parse_union(tokens, position)
            arguments.append(argument)
            if tokens[position] == ",":
                position += 1
                continue
            if tokens[position] == "]":
                position += 1
                break
    if name == "Optional":
        return TypeSpec("|", (arguments[0], TypeSpec("None"))), position
    if name == "Union":
        return TypeSpec("|", tuple(arguments)), position
    return TypeSpec(
        {"Tuple": "tuple", "Dict": "dict", "List": "list"}.get(name, name), tuple(arguments)
    ), position


def _resolve_names(spec: TypeSpec, namespace: Mapping[str, Any]) -> TypeSpec:
    """Attach the dataclass of every nested section the annotation names (looked up, never evaluated)."""
    candidate = namespace.get(spec.name)
    section = candidate if isinstance(candidate, type) and dataclasses.is_dataclass(candidate) else None
    arguments = tuple(_resolve_names(argument, namespace) for argument in spec.arguments)
    return TypeSpec(spec.name, arguments, section)


def _same_shape(value: Any, spec: TypeSpec) -> bool:
    """True when ``value`` is the kind of container ``spec`` is (a mapping for a section, a list for a list)."""
    if isinstance(value, Mapping):
        return spec.section is not None or spec.name in ("Mapping", "dict")
    if isinstance(value, (list, tuple)):
        return spec.name in ("tuple", "list", "Sequence")
    return False


def _key(where: str, name: Any) -> str:
    return f"{where}.{name}" if where else str(name)


def _suggestion(key: Any, fields: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of {', '.join(fields)})"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _error(source: str, key: str, problem: str) -> BatchConfigError:
    return BatchConfigError(f"{source}: {key}: {problem}" if source else f"{key}: {problem}")
