#!/usr/bin/env bash
# Makes scripts/.venv with the Python clients the tests drive (scripts/py/requirements.txt),
# or leaves it as it is when it already has them. Used by .ci/run and scripts/test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if .venv/bin/python -c "import conflux_web3" 2>/dev/null; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r py/requirements.txt
