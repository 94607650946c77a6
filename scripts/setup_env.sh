#!/usr/bin/env bash
# Create .venv (Python 3.11) with the pinned dependencies and the package installed in editable mode.
# Idempotent: re-running only installs what changed. Used by the README's two quick-start commands.
# Each step prints one "setup:" line on stderr with what it is doing; pip's own output goes to
# .venv/setup.log, whose last lines are shown if a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
log=.venv/setup.log

say() { printf 'setup: %s\n' "$*" >&2; }

step() {
  local what=$1
  shift
  local started=$SECONDS
  say "$what ..."
  if ! "$@" >>"$log" 2>&1; then
    say "FAILED: $what; the last lines of $log:"
    tail -n 20 "$log" >&2
    exit 1
  fi
  say "$what: done in $((SECONDS - started)) s"
}

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$python" --version 2>&1) ($python)"
  "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha256
wanted=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  say ".venv is up to date with requirements/ and pyproject.toml"
  exit 0
fi
: >"$log"
total=$SECONDS
step "upgrading pip" .venv/bin/python -m pip install --upgrade pip
step "installing the pinned packages of requirements/dev.txt (first time: torch and the rest, a few minutes)" \
  .venv/bin/python -m pip install -r requirements/dev.txt
step "installing SegQualityReviewLib in editable mode" .venv/bin/python -m pip install --no-deps -e .
step "checking that torch, timm, SimpleITK and SegQualityReviewLib import" \
  .venv/bin/python -c "import torch, timm, SimpleITK, SegQualityReviewLib"
echo "$wanted" >"$stamp"
say ".venv ready in $((SECONDS - total)) s"
