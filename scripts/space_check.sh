#!/usr/bin/env bash
# Does the app start as a Hugging Face Space starts it? A fresh virtual environment gets exactly what a Space
# installs (requirements.txt; the apt packages of packages.txt are assumed present), then `python app.py` runs
# with a Space's environment (SYSTEM=spaces, GRADIO_SERVER_NAME=0.0.0.0, GRADIO_SERVER_PORT, an empty cache) and
# is driven through gradio_client: one classify, one codec explorer call. Times go to bench_results/space_check.json.
# Usage: bash scripts/space_check.sh [PORT]   (about 5–10 minutes: a full install and the LLM's first conversion)
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-7861}"
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
step() { printf '==> %s\n' "$*"; }

started=$(date +%s)
step "fresh virtual environment in $work/venv, from requirements.txt only"
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
$py -m pip install -q --disable-pip-version-check "$(grep -E '^torch==' requirements.txt)"
$py -m pip install -q --disable-pip-version-check -r requirements.txt
installed=$(date +%s)

step "python app.py as a Space runs it (0.0.0.0:$port, empty cache)"
SYSTEM=spaces GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT="$port" UNIAUDIO_CACHE="$work/cache" \
  $py app.py > "$work/app.log" 2>&1 &
server=$!
for _ in $(seq 600); do
  if curl -sf "http://127.0.0.1:$port/" > /dev/null; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then tail -30 "$work/app.log"; exit 1; fi
  sleep 1
done
up=$(date +%s)
outward=$(hostname -I 2>/dev/null | awk '{print $1}')

step "gradio_client: one classify, one explore"
INSTALL_S=$((installed - started)) START_S=$((up - installed)) PORT="$port" OUTWARD="${outward:-}" $py - <<'PY'
import os, time
from pathlib import Path
from gradio_client import Client, handle_file
from bench.provenance import write_result

demo = Path("demo_examples")
client = Client(f"http://127.0.0.1:{os.environ['PORT']}/", verbose=False)
words = ("one", "two", "three")
files = [handle_file(str(demo / f"commands/{w}/flite_slt.flac")) for w in words]
table = {"headers": ["clip", "label"], "data": [["flite_slt.flac", w] for w in words], "metadata": None}
t = time.perf_counter()
label, *_ = client.predict(files, table, handle_file(str(demo / "commands/two/flite_rms.flac")), "0,1", 0, "channel",
                           api_name="/classify")
classify_s = time.perf_counter() - t
t = time.perf_counter()
*_, stats = client.predict(handle_file(str(demo / "commands/seven/flite_slt.flac")), api_name="/explore")
explore_s = time.perf_counter() - t
assert label["label"] in words and "tokens/s" in stats, (label, stats)
result = {"install_seconds": int(os.environ["INSTALL_S"]), "first_start_seconds": int(os.environ["START_S"]),
          "classify_seconds": round(classify_s, 1), "explore_seconds": round(explore_s, 1),
          "classify_label": label["label"], "listening_on": "0.0.0.0", "outward_address": os.environ["OUTWARD"]}
print(result)
write_result("bench_results/space_check.json", result)
PY
step "the Space check passed"
