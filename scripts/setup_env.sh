#!/usr/bin/env bash
# Create .venv (Python 3.11) with the pinned dependencies and the package installed in editable mode.
# Idempotent: re-running only installs what changed. Used by the README's two quick-start commands.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha256
wanted=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -m pip install --quiet -r requirements/dev.txt 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -m pip install --quiet --no-deps -e . 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import torch, timm, SimpleITK, SegQualityReviewLib" 
  echo "$wanted" > "$stamp"
fi
