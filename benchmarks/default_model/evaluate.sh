#!/usr/bin/env bash
# Final figures for the default model: `sentiscore evaluate` on the test files, per variant
# (PRECISIONS, default "int8-static int8 fp32").
# usage: bash benchmarks/default_model/evaluate.sh BUNDLE_DIR OUT_DIR [DATA_DIR]
set -euo pipefail
B=$1; O=$2; D=${3:-../shared/data}
for p in ${PRECISIONS:-int8-static int8 fp32}; do
  sentiscore evaluate "$B" "$D/sst2/dev.parquet" --precision $p --device cpu -o "$O/sst2_dev_$p"
  sentiscore evaluate "$B" "$D/imdb/test.parquet" --precision $p --device cpu -o "$O/imdb_test_$p"
done
