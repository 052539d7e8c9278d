#!/usr/bin/env bash
# Train candidate default models on a CUDA machine with sentiscore's own trainer.
# Usage: bash benchmarks/default_model/train_gpu.sh start|holdout|wait|pack
#   start:   runs A, B, C of bundle 1.0.0 (B shipped).
#   holdout: run H = B's recipe with --holdout sentences (validation = whole SST-2 sentences and
#            IMDB reviews, training drops every phrase of a held-out sentence), the retrain that
#            makes checkpoint choice and the temperature honest for unseen sentences (bundle 1.2.0).
#   wait:    until the runs end (at most ~8 minutes), then their last accuracy lines.
#   pack:    the best run's model as fp16 safetensors, and every run's metrics, into PACK_OUT.
# Settings, from the environment:
#   MODEL    encoder directory (default: all-MiniLM-L6-v2 at .gpu/minilm)
#   DATA     training files, space-separated (default: .gpu/data/{sst2,imdb}_train.parquet)
#   RUNS     where run directories go (default: /tmp/runs)
#   WHEELS   optional folder of wheels (e.g. datasets, dill, multiprocess) installed into SITE
#   SITE     install target put first on PYTHONPATH (default: /tmp/sentiscore-site)
#   PACK_OUT where pack writes pack.tgz.part* (default: ./gpu-pack)
set -uo pipefail
MODEL=${MODEL:-.gpu/minilm}
R=${RUNS:-/tmp/runs}
SITE=${SITE:-/tmp/sentiscore-site}
PACK_OUT=${PACK_OUT:-gpu-pack}
files=${DATA:-.gpu/data/sst2_train.parquet .gpu/data/imdb_train.parquet}
DATA_ARGS=""
for f in $files; do DATA_ARGS="$DATA_ARGS --data $f"; done
export PYTHONPATH=$SITE:$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true HF_HUB_OFFLINE=1
COMMON="--model $MODEL $DATA_ARGS --validation-fraction 0.05 --batch-size 32 --eval-batch-size 128 --max-length 512 --warmup-ratio 0.06 --seed 42"
install() {
  [ -n "${WHEELS:-}" ] || return 0
  python3 -m pip install -q --no-index --no-deps --target "$SITE" "$WHEELS"/*.whl
}
case "$1" in
start)
  install || exit 1
  python3 -c "import torch, transformers, datasets; print(torch.__version__, transformers.__version__, datasets.__version__, torch.cuda.get_device_name())"
  python3 -m sentiscore.cli train --model "$MODEL" $DATA_ARGS --output /tmp/smoke \
    --max-train-samples 512 --max-eval-samples 128 --epochs 1 --max-length 64 2>&1 | tr '\r' '\n' | grep -v 'it/s' | tail -3
  grep -q NaN /tmp/smoke/metrics.json && { echo "NaN in smoke run"; exit 1; }
  mkdir -p $R
  setsid nohup python3 -m sentiscore.cli train $COMMON --output $R/A --truncation head+tail --lr 5e-5 --epochs 3 > $R/A.log 2>&1 &
  setsid nohup python3 -m sentiscore.cli train $COMMON --output $R/B --truncation head --lr 5e-5 --epochs 3 > $R/B.log 2>&1 &
  setsid nohup python3 -m sentiscore.cli train $COMMON --output $R/C --truncation head+tail --lr 3e-5 --epochs 4 > $R/C.log 2>&1 &
  sleep 5; "$0" wait; "$0" pack ;;
holdout)
  install || exit 1
  mkdir -p $R
  setsid nohup python3 -m sentiscore.cli train $COMMON --holdout sentences --output $R/H --truncation head --lr 5e-5 --epochs 3 > $R/H.log 2>&1 &
  sleep 5; "$0" wait 1; "$0" pack ;;
wait)
  for _ in $(seq 1 92); do
    n=$(ls $R/*/metrics.json 2>/dev/null | wc -l); [ "$n" -ge "${2:-3}" ] && break
    if ! pgrep -f "sentiscore.cli train" >/dev/null; then break; fi
    sleep 5
  done
  for r in $(ls $R | grep -v '\.log$'); do echo "== $r"; tr '\r' '\n' < $R/$r.log | grep -E "eval_accuracy|Error|error|accuracy " | tail -4; tr '\r' '\n' < $R/$r.log | grep -E '[0-9]+/[0-9]+ \[' | tail -1; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv ;;
pack)
  best=$(python3 - <<'PY'
import json, os
R = os.environ.get("RUNS", "/tmp/runs")
runs = {r: json.load(open(f"{R}/{r}/metrics.json"))["final"]["accuracy"] for r in "ABCH" if os.path.exists(f"{R}/{r}/metrics.json")}
print(max(runs, key=runs.get))
PY
)
  echo "best: $best"
  mkdir -p /tmp/pack/$best
  python3 - "$best" <<'PY'
import sys, shutil, glob, os
from transformers import AutoModelForSequenceClassification
r = sys.argv[1]; src = f"{os.environ.get('RUNS', '/tmp/runs')}/{r}/model"; dst = f"/tmp/pack/{r}"
AutoModelForSequenceClassification.from_pretrained(src).half().save_pretrained(dst)
for f in glob.glob(src + "/*"):
    if not f.endswith((".safetensors", "config.json", ".bin")) or f.endswith("tokenizer_config.json"):
        shutil.copy(f, dst)
PY
  for r in $(ls $R | grep -v '\.log$'); do mkdir -p /tmp/pack/runs/$r; cp $R/$r/{metrics.json,train_config.json,README.md} /tmp/pack/runs/$r/ 2>/dev/null; cp -r $R/$r/plots /tmp/pack/runs/$r/ 2>/dev/null; done
  cp $R/*.log /tmp/pack/runs/ ; tar -C /tmp/pack -czf /tmp/pack.tgz . && mkdir -p "$PACK_OUT" && split -b 15M -d /tmp/pack.tgz "$PACK_OUT/pack.tgz.part" && ls -la "$PACK_OUT" ;;
esac
