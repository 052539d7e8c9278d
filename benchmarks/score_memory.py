"""Memory benchmark: score a 1,000,000-row Parquet built from real review texts and record RSS
as rows complete. Checks bounded memory: peak RSS < 1.5 GB, and RSS at 1M rows within 20 % of
RSS at 100k rows.

The file samples texts with replacement from ../shared/data: 99 % SST-2 train sentences and
phrases, 1 % IMDB train reviews (long ones keep the run within ~20 minutes on 2 cores).

usage: python benchmarks/score_memory.py BUNDLE [--rows 1000000] [--out benchmarks/results/score_memory]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def build_input(path: str, rows: int, data: str) -> None:
    sst = pq.read_table(f"{data}/sst2/train.parquet").column("text").to_pylist()
    imdb = pq.read_table(f"{data}/imdb/train.parquet").column("text").to_pylist()
    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        long_mask = rng.random(n) < 0.01
        texts = [
            imdb[rng.integers(len(imdb))] if is_long else sst[rng.integers(len(sst))]
            for is_long in long_mask
        ]
        t = pa.table({"id": pa.array(np.arange(start, start + n)), "text": texts})
        writer = writer or pq.ParquetWriter(path, t.schema, compression="zstd")
        writer.write_table(t, row_group_size=50_000)
    writer.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--work", default=None)
    ap.add_argument("--out", default="benchmarks/results/score_memory")
    ap.add_argument("--build-only", action="store_true", help="only write the input file")
    args = ap.parse_args()
    from sentiscore.infer.files import score_files

    work = args.work or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "reviews_1m.parquet")
    if args.build_only:
        build_input(src, args.rows, args.data)
        return
    if not os.path.exists(src):  # built in a child process, so its memory is not counted here
        import subprocess
        import sys

        subprocess.run(
            [
                sys.executable,
                __file__,
                args.bundle,
                "--rows",
                str(args.rows),
                "--data",
                args.data,
                "--work",
                work,
                "--build-only",
            ],
            check=True,
        )
    base_rss = rss_mb()[0]
    samples, done = [], [0]
    marks = sorted(
        {
            10_000,
            100_000,
            200_000,
            300_000,
            400_000,
            500_000,
            600_000,
            700_000,
            800_000,
            900_000,
            args.rows,
        }
    )
    start = time.perf_counter()

    def progress(n):
        done[0] += n
        while marks and done[0] >= marks[0]:
            cur, peak = rss_mb()
            samples.append(
                {
                    "rows": marks.pop(0),
                    "rss_mb": round(cur, 1),
                    "peak_rss_mb": round(peak, 1),
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
            with open(args.out + ".partial.json", "w") as f:  # survives an interrupted run
                json.dump({"rows_total": args.rows, "samples": samples}, f, indent=2)

    stats = score_files(
        [src],
        output=os.path.join(work, "out.parquet"),
        model=args.bundle,
        overwrite=True,
        progress=progress,
    )
    at = {s["rows"]: s for s in samples}
    r100k, r1m = at.get(100_000, samples[0])["rss_mb"], samples[-1]["rss_mb"]
    result = {
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": f"python benchmarks/score_memory.py {args.bundle} --rows {args.rows}",
        "bundle": args.bundle,
        "rows": args.rows,
        "rss_before_scoring_mb": round(base_rss, 1),
        "samples": samples,
        "stats": stats,
        "peak_rss_mb": samples[-1]["peak_rss_mb"],
        "rss_100k_mb": r100k,
        "rss_end_mb": r1m,
        "growth_100k_to_end": round(r1m / r100k - 1, 4),
        "max_rss_after_100k_mb": max(x["rss_mb"] for x in samples if x["rows"] >= 100_000),
        "pass_peak_under_1500mb": samples[-1]["peak_rss_mb"] < 1500,
        "pass_growth_within_20pct": abs(r1m / r100k - 1) <= 0.20,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    lines = [
        f"# Scoring memory ({result['date']}, {result['machine']})",
        "",
        f"`{result['command']}`",
        "",
        f"{args.rows:,} rows, {stats['rows_per_s']} rows/s, {stats['seconds']} s, padding efficiency {stats['padding_efficiency']}, {stats['precision']} on {stats['device']}",
        "",
        "| rows done | RSS MB | peak RSS MB | seconds |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['rows']:,} | {s['rss_mb']} | {s['peak_rss_mb']} | {s['seconds']} |" for s in samples
    ]
    lines += [
        "",
        f"Peak RSS {result['peak_rss_mb']} MB (goal < 1500: {'pass' if result['pass_peak_under_1500mb'] else 'FAIL'}); "
        f"RSS at end vs 100k rows: {result['growth_100k_to_end']:+.1%} (goal within 20 %: {'pass' if result['pass_growth_within_20pct'] else 'FAIL'}).",
        "",
        f"Highest RSS sampled from 100k rows to the end: {result['max_rss_after_100k_mb']} MB "
        f"({result['max_rss_after_100k_mb'] / r100k - 1:+.1%} vs 100k). Input: {args.rows:,} rows sampled "
        "from SST-2 train (99 %) and IMDB train (1 %) texts; scorer defaults (CPU: two streams, "
        "4,096-token micro-batches).",
    ]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    if os.path.exists(args.out + ".partial.json"):  # a complete run replaces it
        os.remove(args.out + ".partial.json")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
