"""Choose a soup's alpha: accuracy per domain of ALPHA * B + (1 - ALPHA) * A (as ``soup.py``
makes it) for each alpha, in PyTorch fp32, on a labeled selection file with a ``domain``
column (``long_reviews.py``'s dev.parquet: the dev parts plus held-out IMDB train reviews).

Texts are cut to the first 512 tokens (the bundle cuts head+tail; the choice between alphas
does not depend on it). Prints one JSON line per alpha; export and ``sentiscore evaluate`` give
the figures of the chosen one.

usage: python benchmarks/default_model/soup_sweep.py A_MODEL B_MODEL SELECTION.parquet
       [--alphas 0,0.5,1]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pyarrow.parquet as pq
from soup import mix  # this directory is on the path when run as a script


def predictions(model, ids: list, budget: int = 4096) -> np.ndarray:
    """Arg-max labels of ``ids`` (lists of token ids), in length-sorted batches."""
    import torch

    order = np.argsort([len(x) for x in ids])
    pred = np.zeros(len(ids), dtype=np.int64)
    i = 0
    with torch.no_grad():
        while i < len(order):
            longest = len(ids[order[min(i + 31, len(order) - 1)]])
            batch = order[i : i + max(1, min(64, budget // longest))]
            i += len(batch)
            width = max(len(ids[j]) for j in batch)
            x = torch.tensor([ids[j] + [0] * (width - len(ids[j])) for j in batch])
            mask = torch.tensor([[1] * len(ids[j]) + [0] * (width - len(ids[j])) for j in batch])
            pred[batch] = model(input_ids=x, attention_mask=mask).logits.argmax(-1).numpy()
    return pred


def main() -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("data")
    ap.add_argument("--alphas", default="0,0.5,1")
    args = ap.parse_args()
    t = pq.read_table(args.data, columns=["text", "label", "domain"]).to_pydict()
    ids = AutoTokenizer.from_pretrained(args.b)(t["text"], truncation=True, max_length=512)
    ids = ids["input_ids"]
    y, domain = np.array(t["label"]), np.array(t["domain"])
    a = AutoModelForSequenceClassification.from_pretrained(args.a).state_dict()
    model = AutoModelForSequenceClassification.from_pretrained(args.b).eval()
    b = {k: v.clone() for k, v in model.state_dict().items()}
    for alpha in (float(x) for x in args.alphas.split(",")):
        model.load_state_dict(mix(a, b, alpha))
        ok = predictions(model, ids) == y
        acc = {d: round(100 * float(ok[domain == d].mean()), 2) for d in sorted(set(domain))}
        print(json.dumps({"alpha": alpha, **acc, "all": round(100 * float(ok.mean()), 2)}))


if __name__ == "__main__":
    main()
