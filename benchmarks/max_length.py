"""--max-length trade-off: evaluate a bundle on a seeded, label-balanced sample of long reviews
at several token limits and record accuracy, rows/s and truncated rows per limit, in one run.

The sample is drawn with a fixed seed from ../shared/data/imdb/test.parquet (which is sorted by
label, so its first rows are all negative). Speed is also given as a ratio to the bundle's own
limit, measured in the same run.

usage: python benchmarks/max_length.py [--bundle default] [--rows 1000] [--lengths 512,256,128,64]
       [--out benchmarks/results/max_length]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import cpu_line, machine, write_results  # noqa: E402


def sample(data: str, rows: int, path: str) -> None:
    table = pq.read_table(f"{data}/imdb/test.parquet", columns=["text", "label"])
    idx = np.sort(np.random.default_rng(0).choice(table.num_rows, rows, replace=False))
    pq.write_table(table.take(idx), path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default="default")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--lengths", default="512,256,128,64")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="benchmarks/results/max_length")
    args = ap.parse_args()
    from sentiscore.infer.evaluate import EvaluateConfig, evaluate_bundle

    work = tempfile.mkdtemp(prefix="max-length-")
    data = os.path.join(work, "imdb-sample.parquet")
    sample(args.data, args.rows, data)
    results = []
    for n in (int(x) for x in args.lengths.split(",")):
        cfg = EvaluateConfig(
            bundle=args.bundle, data=[data], output=os.path.join(work, str(n)), plots=False,
            max_length=n,
        )  # fmt: skip
        rep = evaluate_bundle(cfg)
        results.append(
            {
                "max_length": n,
                "accuracy": rep["metrics"]["accuracy"],
                "rows_per_s": rep["rows_per_s"],
                "rows_truncated": rep["rows_truncated"],
                "precision": rep["precision"],
            }
        )
        print(json.dumps(results[-1]), flush=True)
    base = results[0]["rows_per_s"]
    for r in results:
        r["speed_vs_first"] = round(r["rows_per_s"] / base, 2)
    report = {
        "command": " ".join(["python benchmarks/max_length.py", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "bundle": args.bundle,
        "data": f"{args.rows} reviews drawn with seed 0 from imdb/test.parquet",
        "machine": machine(),
        "results": results,
    }
    write_results(args.out, report, markdown(report))


def markdown(report: dict) -> str:
    cpu = cpu_line(report["machine"]["cpu"])
    lines = [
        f"# --max-length on {report['data']}",
        "",
        f"`{report['command']}`, {report['date']}, {cpu}, bundle {report['bundle']}.",
        "",
        "| --max-length | accuracy | rows truncated | rows/s | speed vs first |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['max_length']} | {r['accuracy']:.2%} | {r['rows_truncated']} | "
            f"{r['rows_per_s']:.1f} | {r['speed_vs_first']:.2f}× |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
