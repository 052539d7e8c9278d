#!/usr/bin/env bash
# Pack what benchmarks/gpu/run.sh needs on a GPU machine that reaches no package registry
# and takes at most 64 MiB per transfer (the repo included), into STAGE/p1 ... STAGE/pN.
#   bash benchmarks/gpu/stage.sh STAGE IMDB.parquet SST2.parquet [PART_MIB] [ORT_GPU_VERSION]
# Writes: the onnxruntime-gpu wheel's files as one xz tar split in PART_MIB pieces (xz saves
# a fifth of the wheel's size), the wheels of the trainer's supported transformers stack,
# 5,000 sampled IMDB reviews and SST-2 dev (text, label), and a weightless bert-base bundle.
# Copy every pN's files into one folder there and pass it to run.sh as --stage.
set -euo pipefail
stage=$1 imdb=$2 sst2=$3 part=${4:-37} ver=${5:-1.31.1}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$stage" && mkdir -p "$stage/last/whl" "$stage/last/data"
dl() { "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$1" "${@:2}"; }
dl "$tmp/ort" "onnxruntime-gpu==$ver"
mkdir -p "$tmp/x" && (cd "$tmp/x" && unzip -q "$tmp"/ort/*.whl)
tar -C "$tmp/x" -cf - . | xz -9 -T0 | split -b "${part}M" -d -a 2 - "$tmp/ort.tar.xz.part."
dl "$stage/last/whl" transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.0 \
  datasets==5.0.1 dill==0.4.1 multiprocess==0.70.19
"$py" - "$imdb" "$sst2" "$stage/last/data" <<'PY'
import sys, numpy as np, pyarrow.parquet as pq
imdb, sst2, out = sys.argv[1:]
t = pq.read_table(imdb, columns=["text", "label"])
idx = np.sort(np.random.default_rng(0).choice(t.num_rows, min(5000, t.num_rows), replace=False))
pq.write_table(t.take(idx), f"{out}/imdb_test_5000.parquet", compression="zstd")
pq.write_table(pq.read_table(sst2, columns=["text", "label"]), f"{out}/sst2_dev.parquet", compression="zstd")
PY
"$py" "$here/make_bert_base.py" "$tmp/hf" "$tmp/bundle" && "$py" "$here/prep.py" skeleton "$tmp/bundle" "$stage/last/data/bert-base-skeleton"
parts=("$tmp"/ort.tar.xz.part.*)
for i in "${!parts[@]}"; do
  n=$((i + 1)); mkdir -p "$stage/p$n"; mv "${parts[$i]}" "$stage/p$n/"
done
last=$(( ${#parts[@]} ))
mv "$stage"/last/* "$stage/p$last/" && rmdir "$stage/last"
du -sh "$stage"/p*
