"""Build the embedded default bundle from the GPU-trained MiniLM (see README.md here).

1. Re-creates the exact validation split the training run carved from train (same code, same
   seed: 5% stratified of SST-2 train + IMDB train) and writes a shuffled 2,000-row sample.
2. Exports the fine-tuned model with fp32 + int8 + int8-static (activation ranges from the
   sample's first 1,000 rows), parity-checked and temperature-calibrated on that sample.

usage: python benchmarks/default_model/build_bundle.py MODEL_DIR OUT_BUNDLE [--data ../shared/data]
"""

import argparse
import json
import os
import random
import time

import pyarrow as pa
import pyarrow.parquet as pq

from sentiscore.export.config import ExportConfig
from sentiscore.export.run import export_model
from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.data import load_training_data

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("out")
ap.add_argument("--data", default="../shared/data")
ap.add_argument("--work", default="benchmarks/_work")
ap.add_argument("--rows", type=int, default=2000)
ap.add_argument("--precision", default="fp32,int8,int8-static")
ap.add_argument("--calibration-rows", type=int, default=1000)
ap.add_argument("--exclude-nodes", nargs="*", default=[])
ap.add_argument("--no-per-channel", action="store_true")
args = ap.parse_args()

os.makedirs(args.work, exist_ok=True)
cfg = TrainConfig(
    model=args.model,
    data=[f"{args.data}/sst2/train.parquet", f"{args.data}/imdb/train.parquet"],
    output=args.work,
    validation_fraction=0.05,
    seed=42,
)
data = load_training_data(cfg)
idx = list(range(len(data.eval.texts)))
random.Random(0).shuffle(idx)
idx = idx[: args.rows]
val_path = os.path.join(args.work, "validation_sample.parquet")
pq.write_table(
    pa.table(
        {"text": [data.eval.texts[i] for i in idx], "label": [data.eval.labels[i] for i in idx]}
    ),
    val_path,
)
t = time.time()
ecfg = ExportConfig(
    precision=args.precision,
    validate_with=val_path,
    text_column="text",
    label_column="label",
    samples=args.rows,
    calibration_rows=args.calibration_rows,
    calibrate=True,
    exclude_nodes=tuple(args.exclude_nodes),
    per_channel=not args.no_per_channel,
    force=True,
)
report = export_model(args.model, args.out, ecfg)
print(report.table())
print(json.dumps({"export_seconds": round(time.time() - t, 1), "validation_rows": len(idx)}))
