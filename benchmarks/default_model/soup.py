"""Interpolate the weights of two fine-tuned models of one architecture (a "model soup" of
two): OUT = ALPHA * B + (1 - ALPHA) * A, tokenizer and config from B. Used to trade the
cross-domain model's product-review gains against the film-review model it started from.

usage: python benchmarks/default_model/soup.py A_MODEL B_MODEL ALPHA OUT_DIR
"""

from __future__ import annotations

import argparse
import shutil

import torch
from transformers import AutoModelForSequenceClassification


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("alpha", type=float)
    ap.add_argument("out")
    args = ap.parse_args()
    a = AutoModelForSequenceClassification.from_pretrained(args.a).state_dict()
    model = AutoModelForSequenceClassification.from_pretrained(args.b)
    b = model.state_dict()
    with torch.no_grad():
        mixed = {
            k: (args.alpha * v + (1 - args.alpha) * a[k]) if v.is_floating_point() else v
            for k, v in b.items()
        }
    model.load_state_dict(mixed)
    shutil.copytree(args.b, args.out, dirs_exist_ok=True)  # tokenizer and training record
    model.save_pretrained(args.out)


if __name__ == "__main__":
    main()
