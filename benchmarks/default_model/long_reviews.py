"""Second stage of the cross-domain default model: full-length film reviews back in.

The first stage (``domains.py``) trains at 128 tokens, where IMDB reviews lose most of their
text. This stage continues from its model on IMDB train reviews not in the first mix, at their
full length, plus a replay sample of the first mix so the product domains are kept. Selection
set: the first stage's dev union plus IMDB *train* reviews held out from both stages (domain
``imdb``); IMDB test stays for reporting.

usage: python benchmarks/default_model/long_reviews.py MIX_DIR OUT_DIR [--data ../shared/data]
       [--imdb 2400] [--replay 1600] [--imdb-dev 400] [--seed 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from domains import write_sets  # this directory is on the path when run as a script


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mix", help="domains.py's output directory (train.parquet, dev.parquet)")
    ap.add_argument("out")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--imdb", type=int, default=2400)
    ap.add_argument("--replay", type=int, default=1600)
    ap.add_argument("--imdb-dev", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    mix = pq.read_table(f"{args.mix}/train.parquet")
    imdb = pq.read_table(f"{args.data}/imdb/train.parquet", columns=["text", "label"])
    unused = imdb.filter(pc.invert(pc.is_in(imdb.column("text"), value_set=mix.column("text"))))
    pick = rng.choice(unused.num_rows, args.imdb + args.imdb_dev, replace=False)
    fresh = unused.take(pick).append_column("domain", pa.array(["imdb"] * len(pick)))
    replay = mix.take(rng.choice(mix.num_rows, args.replay, replace=False))
    train = pa.concat_tables([fresh.slice(0, args.imdb), replay])
    train = train.take(rng.permutation(train.num_rows))
    dev = pa.concat_tables([pq.read_table(f"{args.mix}/dev.parquet"), fresh.slice(args.imdb)])
    write_sets(args.out, train, dev)


if __name__ == "__main__":
    main()
