"""Build the training mix and the selection set for a default model across review domains.

Train: every review of the product and service sets in ``../shared/data`` (Amazon polarity
sample, Blitzer Multi-Domain, Customer Reviews, SemEval-2014 sentences), the two short-sentence
sets repeated so that no domain dominates by row count, plus samples of SST-2 and IMDB train
so that film reviews keep their accuracy. Selection: the union of the sets' dev parts (and
SST-2 dev), with a ``domain`` column; the published test parts are not in ``../shared/data``,
so figures on these rows are selection figures, not test figures.

usage: python benchmarks/default_model/domains.py OUT_DIR [--data ../shared/data] [--seed 0]
       [--sst2 5000] [--imdb 2000] [--repeat-short 2] [--exclude SELECTION.parquet] [--titles]
       [--repeat-titles 1] [--calibration-titles N]

``--exclude`` keeps the texts of a selection file (``long_reviews.py``'s held-out IMDB train
reviews) out of the SST-2 and IMDB samples, so that they stay unseen by the new stage.
``--titles`` adds the titles of the Amazon and Multi-Domain train reviews as short rows of their
own, labelled with their review's label, and writes the dev reviews' titles to
``title_dev.parquet``, a check on short product phrases (they are never trained on).
``--calibration-titles N`` writes ``calibration.parquet`` for ``export --calibration-data``: the
first 1,000 dev-part rows (the rows int8-static was calibrated on before) and N train titles,
shuffled, so that int8-static's activation ranges also see short phrases.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PRODUCT = ("amazon_polarity", "multi_domain_sentiment", "customer_reviews_cr",
           "semeval2014_absa_sentences")  # fmt: skip
SHORT = ("customer_reviews_cr", "semeval2014_absa_sentences")
TITLED = ("amazon_polarity", "multi_domain_sentiment")  # reviews with a ``title`` column


def _read(data: str, name: str, split: str) -> pa.Table:
    t = pq.read_table(f"{data}/{name}/{split}.parquet", columns=["text", "label"])
    return t.append_column("domain", pa.array([name] * t.num_rows))


def _titles(data: str, name: str, split: str = "train") -> pa.Table:
    """A split's review titles as rows of their own, labelled with their review's label:
    short product phrases ("Does not retract", "Overpriced to say the least")."""
    t = pq.read_table(f"{data}/{name}/{split}.parquet", columns=["title", "label"])
    t = t.rename_columns(["text", "label"])
    return t.append_column("domain", pa.array([f"{name}_title"] * t.num_rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sst2", type=int, default=5000)
    ap.add_argument("--imdb", type=int, default=2000)
    ap.add_argument("--repeat-short", type=int, default=2)
    ap.add_argument("--exclude", help="a Parquet file whose texts stay out of the samples")
    ap.add_argument("--titles", action="store_true", help="add the titled sets' titles as rows")
    ap.add_argument("--repeat-titles", type=int, default=1, help="times each title row appears")
    ap.add_argument("--calibration-titles", type=int, default=0, help="write calibration.parquet")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    parts = []
    for name in PRODUCT:
        t = _read(args.data, name, "train")
        parts += [t] * (args.repeat_short if name in SHORT else 1)
        if args.titles and name in TITLED:
            parts += [_titles(args.data, name)] * args.repeat_titles
    held = (
        set(pq.read_table(args.exclude, columns=["text"])["text"].to_pylist())
        if args.exclude
        else set()
    )
    for name, n in (("sst2", args.sst2), ("imdb", args.imdb)):
        t = _read(args.data, name, "train")
        if held:
            t = t.filter(pa.array([x not in held for x in t["text"].to_pylist()]))
        parts.append(t.take(rng.choice(t.num_rows, n, replace=False)))
    train = pa.concat_tables(parts)
    train = train.take(rng.permutation(train.num_rows))
    dev = pa.concat_tables([_read(args.data, n, "dev") for n in (*PRODUCT, "sst2")])
    write_sets(args.out, train, dev)
    if args.titles:  # the dev reviews' titles: a check on short product phrases
        pq.write_table(pa.concat_tables([_titles(args.data, n, "dev") for n in TITLED]),
                       f"{args.out}/title_dev.parquet")  # fmt: skip
    if args.calibration_titles:
        _write_calibration(args, dev, rng)


def _write_calibration(args, dev: pa.Table, rng) -> None:
    """calibration.parquet: the first 1,000 dev-part rows and N train titles, shuffled."""
    titles = pa.concat_tables([_titles(args.data, n) for n in TITLED])
    titles = titles.take(rng.choice(titles.num_rows, args.calibration_titles, replace=False))
    mix = pa.concat_tables([dev.slice(0, 1000), titles])
    pq.write_table(mix.take(rng.permutation(mix.num_rows)), f"{args.out}/calibration.parquet")


def write_sets(out: str, train: pa.Table, dev: pa.Table) -> None:
    """train.parquet and dev.parquet in ``out``, and their rows per domain on stdout."""
    os.makedirs(out, exist_ok=True)
    pq.write_table(train, f"{out}/train.parquet")
    pq.write_table(dev, f"{out}/dev.parquet")
    for split, t in (("train", train), ("dev", dev)):
        counts = t.group_by("domain").aggregate([("label", "count")]).to_pylist()
        print(split, t.num_rows, {c["domain"]: c["label_count"] for c in counts})


if __name__ == "__main__":
    main()
