"""`segquality --help` and `segquality analyze` never load torch: they must stay quick and work without it."""

from __future__ import annotations

import subprocess
import sys

# Runs the CLI in a fresh interpreter and reports the heavy packages it imported.
PROBE = (
    "import sys\nfrom SegQualityReviewLib.cli import main\n"
    "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as stop:\n    code = stop.code\n"
    "print('exit', code, 'torch', 'torch' in sys.modules, 'timm', 'timm' in sys.modules)"
)


def run_probe(*argv: str, cwd=None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True, cwd=cwd
    )
    return result.stdout.strip().splitlines()[-1]


def test_help_imports_no_torch():
    assert run_probe("--help") == "exit 0 torch False timm False"
    assert run_probe("estimate", "--help") == "exit 0 torch False timm False"


def test_analyze_of_a_small_table_imports_no_torch(tmp_path):
    rows = ["case_id,patient_id,model,structure,metric,value"]
    rows += [
        f"c{i},p{i},{m},liver,dice,{0.5 + 0.05 * i + (0.1 if m == 'a' else 0)}"
        for i in range(4)
        for m in "ab"
    ]
    (tmp_path / "scores.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    argv = ("analyze", "--scores", "scores.csv", "--out", "out", "--n-resamples", "200")
    assert run_probe(*argv, cwd=tmp_path) == "exit 0 torch False timm False"
    assert (tmp_path / "out" / "report.html").is_file()
