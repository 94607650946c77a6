#!/usr/bin/env bash
# The README's main-job command: set up .venv, then run the end-to-end demo into demo_out/ (or $1).
# It uses ../shared/data when present, else a synthetic phantom cohort the project generates.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
out=${1:-demo_out}
exec .venv/bin/segquality demo --out "$out"
