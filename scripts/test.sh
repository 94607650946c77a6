#!/usr/bin/env bash
# The README's test command: set up .venv, install a headless Chromium for the report test, run pytest.
# Extra arguments go to pytest; `--slow` also runs the tests marked slow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "scripts/test.sh: chromium could not be installed; the browser tests will skip"
fi
args=()
for arg in "$@"; do
  if [ "$arg" = "--slow" ]; then args+=(-m "slow or not slow"); else args+=("$arg"); fi
done
exec .venv/bin/python -m pytest ${args[@]+"${args[@]}"}
