#!/usr/bin/env bash
# Install what is missing (including the test tools), then run the whole test suite. Extra args go to pytest,
# e.g. `scripts/test.sh -m "not integration"` for the fast offline unit tests only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
echo "==> lint (ruff)"
.venv/bin/ruff check --quiet . && .venv/bin/ruff format --check --quiet .
echo "==> tests"
exec .venv/bin/python -m pytest "$@"
