"""Which validation rows to fit the default model's temperature on.

SST-2 train (hence the validation split carved from it) is mostly short phrase fragments
("excruciatingly"), unlike the full sentences and reviews the model is for. This script
scores the whole 5% validation split once and compares temperatures fitted on all rows with
one fitted on rows of >= MIN_WORDS words, by ECE on the sentence-like validation rows.

usage: python benchmarks/default_model/temperature.py BUNDLE [--data ../shared/data]
"""

import argparse
import json

import numpy as np

from sentiscore.infer.scorer import Scorer
from sentiscore.metrics import ece, fit_temperature, nll
from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.data import load_training_data

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("--data", default="../shared/data")
ap.add_argument("--min-words", type=int, default=8)
args = ap.parse_args()
cfg = TrainConfig(
    model="-",
    data=[f"{args.data}/sst2/train.parquet", f"{args.data}/imdb/train.parquet"],
    output="/tmp",
    validation_fraction=0.05,
    seed=42,
)
val = load_training_data(cfg).eval
scorer = Scorer.load(args.bundle, device="cpu", precision="int8")
t0 = scorer.temperature
probs = scorer.probabilities(val.texts)
logits = np.log(np.clip(probs, 1e-12, None)) * t0  # logits up to a per-row constant, at T = 1
y = np.asarray(val.labels)
words = np.asarray([len(t.split()) for t in val.texts])
long_ = words >= args.min_words
out = {
    "rows": len(y),
    "rows_min_words": int(long_.sum()),
    "min_words": args.min_words,
    "bundle_temperature": t0,
}
for name, sel in (("all", np.ones_like(long_)), (f">={args.min_words} words", long_)):
    t = fit_temperature(logits[sel], y[sel])
    out[f"T fitted on {name}"] = {
        "T": round(t, 4),
        "ece_all": round(ece(np.exp(logits / t) / np.exp(logits / t).sum(1, keepdims=True), y), 4),
        "ece_sentences": round(
            ece(
                np.exp(logits[long_] / t) / np.exp(logits[long_] / t).sum(1, keepdims=True),
                y[long_],
            ),
            4,
        ),
        "nll_sentences": round(nll(logits[long_], y[long_], t), 4),
    }
print(json.dumps(out, indent=2))
