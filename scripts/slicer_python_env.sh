#!/usr/bin/env bash
# Build once, then reuse, a virtual environment with a Slicer release's Python and package versions, and
# print its interpreter's path:
#   bash scripts/slicer_python_env.sh 5.6    .venv-slicer-5.6  (pyenv's 3.9,  requirements/slicer-5.6.txt)
#   bash scripts/slicer_python_env.sh 5.10   .venv-slicer-5.10 (pyenv's 3.12, requirements/slicer-5.10.txt)
# The environment is rebuilt when its requirements file changes. The package is put on its path with a
# .pth file (no build step). Exit code 3 and one line on stderr when it cannot be built on this machine
# (no such Python from pyenv, or PyPI out of reach): the tier then skips. Any other failure is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
tier=${1:?usage: slicer_python_env.sh 5.6|5.10}
case "$tier" in
  5.6) python_version=3.9 ;;
  5.10) python_version=3.12 ;;
  *) echo "slicer_python_env.sh: unknown tier '$tier' (5.6 or 5.10)" >&2; exit 2 ;;
esac
requirements="requirements/slicer-$tier.txt"
venv=".venv-slicer-$tier"

pyenv_root=$( (command -v pyenv >/dev/null 2>&1 && pyenv root) || echo "$HOME/.pyenv")
interpreter=$(ls -d "$pyenv_root"/versions/"$python_version".*/bin/python"$python_version" 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$interpreter" ]; then
  echo "Slicer $tier tier: no Python $python_version from pyenv in $pyenv_root/versions" >&2
  exit 3
fi

wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$wanted" ]; then
  echo "$PWD/$venv/bin/python"
  exit 0
fi

index=${PIP_INDEX_URL:-$("$interpreter" -m pip config get global.index-url 2>/dev/null || echo https://pypi.org/simple/)}
if ! "$interpreter" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20)" "$index" >/dev/null 2>&1; then
  echo "Slicer $tier tier: the package index $index is out of reach, so the environment cannot be built" >&2
  exit 3
fi

rm -rf "$venv"
"$interpreter" -m venv "$venv"
log=$(mktemp)
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$requirements" >"$log" 2>&1; then
  rm -rf "$venv"
  if grep -qiE "Failed to establish a new connection|Temporary failure in name resolution|Network is unreachable|No route to host|ProxyError|timed out" "$log"; then
    echo "Slicer $tier tier: pip cannot reach PyPI to install $requirements" >&2
    rm -f "$log"
    exit 3
  fi
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
site_packages=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$PWD/SegQualityReview" >"$site_packages/segqualityreview.pth"
echo "$wanted" >"$venv/.requirements.sha256"
echo "$PWD/$venv/bin/python"
