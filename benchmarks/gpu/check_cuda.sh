#!/usr/bin/env bash
# CUDA checks on the lent GPU machine (see ../shared/gpu/README.md): installs the staged
# onnxruntime-gpu wheel from ~/ortgpu, then runs the scorer on CUDA with IO binding.
# Carried: .gpu2/ (tiny fp32/int8/fp16 bundle, the default model's fp16 variant, SST-2 dev,
# 2,000 sampled IMDB test rows).
set -uo pipefail
repo=$PWD
(cd ~/ortgpu && cat part.* > "$(cat WHEEL_NAME)" && python3 -m pip install -q --no-index --no-deps --target ~/ortsite "$(cat WHEEL_NAME)") || exit 1
export PYTHONPATH=~/ortsite:$repo PYTHONUNBUFFERED=1
G=.gpu2
S="python3 -m sentiscore.cli"
python3 -c "import onnxruntime as o; print('ort', o.__version__, o.get_available_providers())"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tiny fp16 on cuda"; $S -v score examples/reviews.csv -m $G/tiny --device cuda --precision fp16 -o $OUT/tiny_fp16_cuda.csv 2>&1 | grep -v '^DEBUG' | tail -3
echo "== tiny fp32 on cuda"; $S score examples/reviews.csv -m $G/tiny --device cuda --precision fp32 -o /tmp/tiny_fp32.csv 2>&1 | tail -1
echo "== int8 on cuda must be refused"; $S score examples/reviews.csv -m $G/tiny --device cuda --precision int8 -o /tmp/x.csv; echo "rc=$?"
echo "== auto picks"; $S --log-json score examples/reviews.csv -m $G/tiny -o /tmp/auto.csv --silent 2>&1 | grep -i -E 'device|provider' | head -3
echo "== default fp16 predict"; $S predict -m $G/default_fp16 --device cuda "The movie was fantastic! I loved it." "Dull, overlong and badly acted."
for d in sst2_dev imdb_test_2000; do
  echo "== evaluate $d fp16 cuda"; $S evaluate $G/default_fp16 $G/$d.parquet --device cuda --precision fp16 --no-plots -o $OUT/eval_$d
done
for mt in 8192 65536; do
  echo "== score imdb 2000 max-tokens $mt"; $S score $G/imdb_test_2000.parquet -m $G/default_fp16 --device cuda --prefix pred_ --max-tokens $mt -o /tmp/imdb_$mt.parquet --stats-json $OUT/imdb_score_cuda_$mt.json --silent; cat $OUT/imdb_score_cuda_$mt.json | tr '\n' ' '; echo
done
