"""Peak memory of `score` on long texts: N IMDB reviews, a few one-megabyte texts, and a few
one-megabyte Chinese texts without spaces.
Goal: peak RSS <= 1 GB on each. Each case runs in its own process (its peak is its own).

The reviews are drawn with a fixed seed from ../shared/data/imdb (train + test); each
one-megabyte text is reviews joined until it passes 1 MB, so it is real prose. The Chinese
texts are CJK ideographs drawn with a fixed seed (no Chinese corpus is at hand; what matters
here is that they have no whitespace to clip at).

usage: python benchmarks/long_texts_memory.py [--bundle default] [--reviews 20000] [--huge 45]
       [--cjk 20] [--out benchmarks/results/long_texts_memory]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import cpu_line, machine, write_results  # noqa: E402

GOAL_MB = 1024
CHILD = """
import json, sys, time
from sentiscore.infer.files import score_files
start = time.perf_counter()
stats = score_files([sys.argv[1]], model=sys.argv[2], output=sys.argv[3], overwrite=True)
peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"peak_rss_mb": round(int(peak) / 1024, 1), "rows": stats["rows"],
                  "seconds": round(time.perf_counter() - start, 1),
                  "rows_per_s": stats["rows_per_s"], "truncated": stats["truncated"],
                  "precision": stats["precision"]}))
"""


def build(data: str, reviews: int, huge: int, cjk: int, work: str) -> dict:
    texts = []
    for split in ("train", "test"):
        texts += (
            pq.read_table(f"{data}/imdb/{split}.parquet", columns=["text"]).column(0).to_pylist()
        )
    rng = np.random.default_rng(0)
    pick = [texts[i] for i in rng.choice(len(texts), reviews, replace=False)]
    paths = {"imdb": os.path.join(work, "imdb.parquet"), "huge": os.path.join(work, "huge.parquet")}
    pq.write_table(pa.table({"id": np.arange(reviews), "text": pick}), paths["imdb"])
    big = []
    for _ in range(huge):
        parts, size = [], 0
        while size < 1 << 20:
            t = texts[rng.integers(len(texts))]
            parts.append(t)
            size += len(t) + 1
        big.append(" ".join(parts))
    pq.write_table(pa.table({"id": np.arange(huge), "text": big}), paths["huge"])
    paths["cjk"] = os.path.join(work, "cjk.parquet")
    chars = rng.integers(0x4E00, 0xA000, size=(cjk, 350_000))
    chinese = ["".join(map(chr, row)) for row in chars]  # 3 bytes each in UTF-8: 1.05 MB
    pq.write_table(pa.table({"id": np.arange(cjk), "text": chinese}), paths["cjk"])
    return paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default="default")
    ap.add_argument("--reviews", type=int, default=20_000)
    ap.add_argument("--huge", type=int, default=45)
    ap.add_argument("--cjk", type=int, default=20)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="benchmarks/results/long_texts_memory")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="long-texts-")
    paths = build(args.data, args.reviews, args.huge, args.cjk, work)
    cases = {}
    for name in ("huge", "cjk", "imdb"):
        out = os.path.join(work, f"{name}.scored.parquet")
        done = subprocess.run(
            [sys.executable, "-c", CHILD, paths[name], args.bundle, out],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        cases[name] = json.loads(done.stdout.strip().splitlines()[-1])
        cases[name]["pass"] = cases[name]["peak_rss_mb"] <= GOAL_MB
        print(name, json.dumps(cases[name]), flush=True)
    report = {
        "command": " ".join(["python benchmarks/long_texts_memory.py", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": machine(),
        "inputs": {
            "imdb": f"{args.reviews} IMDB reviews drawn with seed 0",
            "huge": f"{args.huge} texts of just over 1 MB each (IMDB reviews joined)",
            "cjk": f"{args.cjk} Chinese texts of 1.05 MB each, no spaces (random ideographs)",
        },
        "goal_peak_rss_mb": GOAL_MB,
        "cases": cases,
    }
    write_results(args.out, report, markdown(report))


def markdown(report: dict) -> str:
    cpu = cpu_line(report["machine"]["cpu"])
    lines = [
        "# Peak memory of `score` on long texts",
        "",
        f"`{report['command']}`, {report['date']}, {cpu}, bundle defaults.",
        "",
        "| input | rows | peak RSS MB | goal | rows/s | truncated |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, c in report["cases"].items():
        lines.append(
            f"| {report['inputs'][name]} | {c['rows']} | {c['peak_rss_mb']} | "
            f"<= {report['goal_peak_rss_mb']}: {'pass' if c['pass'] else 'FAIL'} | "
            f"{c['rows_per_s']} | {c['truncated']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
