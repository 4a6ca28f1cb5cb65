#!/usr/bin/env bash
# Install what is missing, then launch the app on the CPU default (flags pass through: --port, --share, --lm, …).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> launching the app (first start converts the LLM once, about a minute)"
exec .venv/bin/python app.py "$@"
