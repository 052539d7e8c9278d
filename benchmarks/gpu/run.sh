#!/usr/bin/env bash
# Run every GPU measurement (benchmarks/gpu/gpu_bench.py) on a CUDA machine, from the repo root.
#   bash benchmarks/gpu/run.sh --out DIR --stage DIR [gpu_bench.py options]
# --stage: a folder holding what benchmarks/gpu/stage.sh packed (every pN's files together):
#   ort.tar.xz.part.* (onnxruntime-gpu's files; or instead an onnxruntime-gpu *.whl),
#   whl/*.whl (the trainer's transformers stack) and data/ (IMDB and SST-2 samples, the
#   weightless bert-base bundle). Needs python3 with torch (CUDA), onnx, pyarrow, tokenizers,
#   click, accelerate, datasets; nothing is downloaded. Results: DIR/gpu_bench.json, DIR/run.log.
set -uo pipefail
out="" stage="" site=${SITE:-/tmp/sentiscore-site}
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$out" ] && [ -n "$stage" ] || { echo "usage: run.sh --out DIR --stage DIR [options]"; exit 2; }
mkdir -p "$out" "$site"
exec > >(tee "$out/run.log") 2>&1
t0=$(date +%s)
if ls "$stage"/ort.tar.xz.part.* >/dev/null 2>&1; then
  cat "$stage"/ort.tar.xz.part.* | xz -d | tar -x -C "$site" || exit 1
fi
whls=$(ls "$stage"/*.whl "$stage"/whl/*.whl 2>/dev/null)
if [ -n "$whls" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" $whls || exit 1
fi
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
echo "setup: $(( $(date +%s) - t0 ))s"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import onnxruntime as o, transformers as t; print('onnxruntime', o.__version__, o.get_available_providers(), 'transformers', t.__version__)"
python3 benchmarks/gpu/gpu_bench.py --out "$out" --imdb "$stage/data/imdb_test_5000.parquet" \
  --sst2 "$stage/data/sst2_dev.parquet" --bert-skeleton "$stage/data/bert-base-skeleton" "${args[@]}"
echo "total: $(( $(date +%s) - t0 ))s"
