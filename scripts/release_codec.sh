#!/usr/bin/env bash
# Make a release codec folder from the training run's latest state, with both of its vocoders trained for it:
# export the codec; tune HiFi-GAN on its decoded mels (rank-16 export) and, beside it, train the light vocoder on
# the recordings and then with its own copy of the mel decoder (the README's "Train the codec" steps, in the
# settings the shipped files were made with); then benchmark the folder. About 70 minutes on 2 idle cores
# (one branch per core) plus the benchmark. Every run resumes from its state.pt, so after a stop run it again.
#
#   scripts/release_codec.sh OUT [RUN]        # OUT: a new codec folder (e.g. /tmp/codec-40k); RUN: runs/codec2
#
# For a smoke test, lower the step counts and the data: TUNE_STEPS, TUNE_KEEP, LIGHT_STEPS, JOINT_STEPS, DATA_MINUTES,
# MANIFEST (a smaller training manifest inside train_set/), BENCH=0 (no benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/release_codec.sh OUT_FOLDER [RUN_FOLDER]}
run=${2:-runs/codec2}
tag=$(basename "$out")
py=${PYTHON:-.venv/bin/python}
dev=dev_set/manifest.json
tune_steps=${TUNE_STEPS:-1000}      # the shipped tuning: step 1,000 of a cosine over 8,000
tune_keep=${TUNE_KEEP:-250 500 750} # tuning states kept on the way, to choose from by measurement
light_steps=${LIGHT_STEPS:-6400}    # the shipped light vocoder: step 6,400 of 8,000
joint_steps=${JOINT_STEPS:-4000}    # then 4,000 steps with its own mel decoder
data_minutes=${DATA_MINUTES:-45}    # training audio the light vocoder's pairs hold
manifest=${MANIFEST:-train_set/manifest.json}
export OMP_NUM_THREADS=1
mkdir -p runs

[[ -f "$out/model.safetensors" ]] || $py -m model.codec.train --run "$run" --export "$out"

hifigan() {
  # keep the states on the way (state-250.pt …): the quick evaluation has peaked before step 1,000, so the
  # shipped step is chosen with `python -m bench.vocoder_tune --codec OUT --states …` afterwards
  for step in $tune_keep "$tune_steps"; do
    ((step <= tune_steps)) || continue
    $py -m model.codec.vocoder_tune --codec "$out" --run "runs/$tag-vocoder" --steps "$step" \
      --manifest "$manifest" --eval-dev $dev
    ((step == tune_steps)) || cp "runs/$tag-vocoder/state.pt" "runs/$tag-vocoder/state-$step.pt"
  done
  $py -m model.codec.vocoder_tune --run "runs/$tag-vocoder" --export "$out" --rank 16
}

light() {
  $py -m model.codec.vocoder_distill --codec "$out" --run "runs/$tag-istft-recording" --target recording \
    --complex-weight 0 --steps "$light_steps" --schedule-steps 8000 --data-minutes "$data_minutes" \
    --manifest "$manifest" --eval-dev $dev
  $py -m model.codec.vocoder_distill --codec "$out" --run "runs/$tag-istft-joint" --target recording \
    --complex-weight 0 --joint --init-from "runs/$tag-istft-recording" --lr 1e-4 --warmup 100 \
    --steps "$joint_steps" --schedule-steps 4000 --data-minutes "$data_minutes" --manifest "$manifest" --eval-dev $dev
  $py -m model.codec.vocoder_distill --run "runs/$tag-istft-joint" --export "$out"
}

echo "==> $out: HiFi-GAN tuning (runs/$tag-vocoder.log) and the light path (runs/$tag-istft.log), side by side"
hifigan >"runs/$tag-vocoder.log" 2>&1 &
tuning=$!
light >"runs/$tag-istft.log" 2>&1 &
lighting=$!
status=0
wait $tuning || { echo "HiFi-GAN tuning failed: runs/$tag-vocoder.log" >&2; status=1; }
wait $lighting || { echo "light path failed: runs/$tag-istft.log" >&2; status=1; }
((status == 0)) || exit $status

if [[ "${BENCH:-1}" != 0 ]]; then
  echo "==> benchmark: bench_results/codec_$tag.json and codec_${tag}_istft.json"
  unset OMP_NUM_THREADS
  $py -m bench.codec --checkpoint "$out" --parts quality digits --out "bench_results/codec_$tag.json"
  $py -m bench.codec --checkpoint "$out" --parts quality digits --vocoder istft --out "bench_results/codec_${tag}_istft.json"
fi
echo "==> $out is ready: compare it with checkpoints/codec, then copy its files there to ship it"
