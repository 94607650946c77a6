"""Rewrite SegQualityReview/CMakeLists.txt so it lists every script and resource of the module by name.

Slicer packages only the files its CMakeLists names; run this after adding or removing a file (a static
test in Testing/static fails until the list matches the folder).
"""

from __future__ import annotations

from pathlib import Path

MODULE_FOLDER = Path(__file__).resolve().parents[1] / "SegQualityReview"
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}

TEMPLATE = """#-----------------------------------------------------------------------------
set(MODULE_NAME SegQualityReview)

#-----------------------------------------------------------------------------
# Written by scripts/update_module_cmakelists.py: every file is listed, since only listed files are packaged.
set(MODULE_PYTHON_SCRIPTS
{scripts}
  )

set(MODULE_PYTHON_RESOURCES
{resources}
  )

#-----------------------------------------------------------------------------
slicerMacroBuildScriptedModule(
  NAME ${{MODULE_NAME}}
  SCRIPTS ${{MODULE_PYTHON_SCRIPTS}}
  RESOURCES ${{MODULE_PYTHON_RESOURCES}}
  WITH_GENERIC_TESTS
  )

#-----------------------------------------------------------------------------
if(BUILD_TESTING)
  # Register the unittest subclass in the main script as a ctest.
  # Note that the test will also be available at runtime.
  slicer_add_python_unittest(SCRIPT ${{MODULE_NAME}}.py)
endif()
"""


def module_files() -> tuple[list[str], list[str]]:
    """Scripts and resources of the module, relative to its folder, in a stable order."""
    scripts, resources = ["${MODULE_NAME}.py"], []
    for path in sorted(MODULE_FOLDER.rglob("*")):
        relative = path.relative_to(MODULE_FOLDER)
        if not path.is_file() or SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc":
            continue
        name = relative.as_posix()
        if relative.parts[0] == "SegQualityReviewLib":
            (scripts if path.suffix == ".py" else resources).append(name)
        elif relative.parts[0] == "Resources":
            resources.append(name.replace("SegQualityReview.", "${MODULE_NAME}."))
    return scripts, resources


def main() -> None:
    scripts, resources = module_files()
    text = TEMPLATE.format(
        scripts="\n".join(f"  {name}" for name in scripts),
        resources="\n".join(f"  {name}" for name in resources),
    )
    (MODULE_FOLDER / "CMakeLists.txt").write_text(text, encoding="utf-8")
    print(
        f"listed {len(scripts)} scripts and {len(resources)} resources in {MODULE_FOLDER / 'CMakeLists.txt'}"
    )


if __name__ == "__main__":
    main()
