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


def mix(a: dict, b: dict, alpha: float) -> dict:
    """ALPHA * B + (1 - ALPHA) * A over two state dicts; integer buffers are taken from B."""
    with torch.no_grad():
        return {
            k: (alpha * v + (1 - alpha) * a[k]) if v.is_floating_point() else v
            for k, v in b.items()
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("alpha", type=float)
    ap.add_argument("out")
    args = ap.parse_args()
    a = AutoModelForSequenceClassification.from_pretrained(args.a).state_dict()
    model = AutoModelForSequenceClassification.from_pretrained(args.b)
    model.load_state_dict(mix(a, model.state_dict(), args.alpha))
    shutil.copytree(args.b, args.out, dirs_exist_ok=True)  # tokenizer and training record
    model.save_pretrained(args.out)


if __name__ == "__main__":
    main()
