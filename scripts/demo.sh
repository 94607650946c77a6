#!/usr/bin/env bash
# The README's main-job command: set up .venv, then run the end-to-end demo into demo_out/ (or $1).
# It always runs a synthetic phantom cohort and adds the real studies when ../shared/data is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
out=${1:-demo_out}
printf 'demo: running the end-to-end demo into %s (progress bars below; open %s/index.html after)\n' "$out" "$out" >&2
exec .venv/bin/segquality demo --out "$out"
