"""How a bundle's variants read short product phrases, the default model's known weak spot.

For each variant of a bundle: P(positive) after the bundle's calibration for the three texts
of the cross-domain goal ("broke instantly" and "doesn't last long." are complaints, "Boils
water in two minutes, love it!" is praise), and, given a labeled file of short phrases
(``domains.py --titles`` writes the dev reviews' titles to ``title_dev.parquet``), accuracy on
it and label agreement with the fp32 variant. Quantised variants can lose what fp32 learnt
about such phrases when their activation ranges were calibrated on long texts only.

usage: python benchmarks/default_model/short_phrases.py BUNDLE [--titles TITLE_DEV.parquet]
       [--variants fp32,int8-static] [-o OUT.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pyarrow.parquet as pq

from sentiscore.infer.evaluate import LabelResolver
from sentiscore.infer.scorer import Scorer

TEXTS = ("broke instantly", "doesn't last long.", "Boils water in two minutes, love it!")
RIGHT = ("negative", "negative", "positive")


def measure(bundle: str, variant: str, titles: tuple[list, np.ndarray] | None) -> dict:
    scorer = Scorer.load(bundle, device="cpu", precision=variant)
    pos = scorer.labels.index("positive")
    probs = scorer.probabilities(list(TEXTS))[:, pos]
    out = {
        "variant": variant,
        "texts": {t: round(float(p), 3) for t, p in zip(TEXTS, probs)},
        "texts_right": int(sum((p > 0.5) == (r == "positive") for p, r in zip(probs, RIGHT))),
    }
    if titles is not None:
        texts, gold = titles
        labels = scorer.probabilities(texts).argmax(1)
        out["titles_accuracy"] = round(float((labels == gold).mean()) * 100, 2)
        out["_labels"] = labels
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--titles", help="labeled short phrases (text, label)")
    ap.add_argument("--variants", default="fp32,int8-static")
    ap.add_argument("-o", "--output")
    args = ap.parse_args()
    titles = None
    if args.titles:
        t = pq.read_table(args.titles, columns=["text", "label"])
        with open(f"{args.bundle}/sentiscore.json", encoding="utf-8") as f:
            names = json.load(f)["labels"]
        gold = LabelResolver([names[str(i)] for i in range(len(names))])
        titles = (t["text"].to_pylist(), np.array([gold(v) for v in t["label"].to_pylist()]))
    rows = [measure(args.bundle, v, titles) for v in args.variants.split(",")]
    if titles is not None:
        ref = rows[0]["_labels"]
        for r in rows:
            r["titles_agreement_with_" + rows[0]["variant"]] = round(
                float((r.pop("_labels") == ref).mean()) * 100, 2
            )
    text = json.dumps({"bundle": args.bundle, "titles": args.titles, "variants": rows}, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
