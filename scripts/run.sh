#!/usr/bin/env bash
# Install what is missing, then launch the app on the CPU default (flags pass through: --port, --share, …).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [[ -f app.py ]]; then
  echo "==> launching the app"
  exec .venv/bin/python app.py "$@"
fi
echo "==> the app is not built yet: showing the library's status instead"
exec .venv/bin/python -m model "$@" info --load
