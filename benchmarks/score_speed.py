"""Speed benchmark: `sentiscore score` (ONNX Runtime, int8/fp32 bundle) vs the usual
`transformers.pipeline("text-classification", batch_size=32, truncation=True)` on the same
fine-tuned model and data, measured in one run on this machine (ratios, not absolute times).

Each variant runs ``--repeats`` times, interleaved with the others; the median pass counts.

usage: python benchmarks/score_speed.py HF_MODEL_DIR BUNDLE_DIR [--data ../shared/data]
       [--imdb-rows 500] [--repeats 3] [--out benchmarks/results/score_speed]
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
import pyarrow.parquet as pq


def pipeline_runner(model_dir: str, texts: list[str], max_length: int):
    """A callable timing one pass of the transformers pipeline over ``texts`` (load excluded)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    torch.set_num_threads(os.cpu_count() or 2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).float()
    clf = pipeline("text-classification", model=model, tokenizer=tok, device=-1)
    clf(texts[:4], batch_size=4, truncation=True, max_length=max_length)  # warm-up
    label2id = model.config.label2id
    lengths = [len(x) for x in tok(texts, truncation=True, max_length=max_length)["input_ids"]]
    computed = sum(
        len(lengths[i : i + 32]) * max(lengths[i : i + 32]) for i in range(0, len(lengths), 32)
    )

    def run() -> dict:
        start = time.perf_counter()
        out = clf(texts, batch_size=32, truncation=True, max_length=max_length)
        seconds = time.perf_counter() - start
        return {
            "pred": np.asarray([label2id[o["label"]] for o in out]),
            "seconds": seconds,
            "tokens": sum(lengths),
            "computed_tokens": computed,
        }

    return run


def sentiscore_runner(bundle: str, parquet: str, precision: str):
    """A callable timing one ``score_files`` pass, Parquet in and out (load excluded)."""
    from sentiscore.infer.files import score_files
    from sentiscore.infer.scorer import Scorer

    scorer = Scorer.load(bundle, device="cpu", precision=precision)
    scorer.predict(["warm up"])

    def run() -> dict:
        scorer.stats.__init__()
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.parquet")
            start = time.perf_counter()
            stats = score_files([parquet], output=out, prefix="pred_", scorer=scorer)
            seconds = time.perf_counter() - start
            pred = pq.read_table(out, columns=["pred_label_id"]).column(0).to_numpy()
        return {
            "pred": pred,
            "seconds": seconds,
            "tokens": stats["tokens"],
            "computed_tokens": stats["computed_tokens"],
        }

    return run


def timed(runners: dict, repeats: int) -> dict:
    """Run every runner ``repeats`` times, interleaved (so drift hits all alike); keep the
    median pass of each, with all pass times."""
    passes: dict = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            passes[name].append(run())
    out = {}
    for name, runs in passes.items():
        runs.sort(key=lambda r: r["seconds"])
        out[name] = {**runs[len(runs) // 2], "all_seconds": [round(r["seconds"], 3) for r in runs]}
    return out


def summarize(
    name: str, r: dict, labels: np.ndarray, base: dict | None, ref_pred: np.ndarray | None
) -> dict:
    n = len(labels)
    row = {
        "variant": name,
        "rows": n,
        "seconds": round(r["seconds"], 2),
        "all_seconds": r["all_seconds"],
        "rows_per_s": round(n / r["seconds"], 2),
        "tokens_per_s": round(r["tokens"] / r["seconds"], 1),
        "padding_efficiency": round(r["tokens"] / r["computed_tokens"], 3),
        "accuracy": round(float((r["pred"] == labels).mean()), 4),
    }
    row["x_pipeline"] = round(base["seconds"] / r["seconds"], 2) if base else 1.0
    row["agreement_with_pytorch"] = (
        round(float((r["pred"] == ref_pred).mean()), 4) if ref_pred is not None else None
    )
    return row


def workload(
    name: str, parquet: str, model_dir: str, bundle: str, max_length: int, repeats: int
) -> list[dict]:
    t = pq.read_table(parquet)
    texts, labels = t.column("text").to_pylist(), t.column("label").to_numpy()
    base_name = "transformers pipeline (PyTorch fp32, bs 32)"
    runners = {base_name: pipeline_runner(model_dir, texts, max_length)}
    for precision in ("fp32", "int8"):
        runners[f"sentiscore score ({precision})"] = sentiscore_runner(bundle, parquet, precision)
    res = timed(runners, repeats)
    base = res[base_name]
    rows = [summarize(base_name, base, labels, None, None)]
    rows += [summarize(k, r, labels, base, base["pred"]) for k, r in res.items() if k != base_name]
    for r in rows:
        r["workload"] = name
    return rows


def imdb_workload(args, max_length: int) -> list[dict]:
    """The IMDB rows of the table: a seeded sample of test half A, written to a temporary file."""
    imdb = pq.read_table(f"{args.data}/imdb/test.parquet")
    idx = np.random.default_rng(0).choice(imdb.num_rows, args.imdb_rows, replace=False)
    imdb_path = os.path.join(tempfile.mkdtemp(), "imdb_sample.parquet")
    pq.write_table(imdb.take(np.sort(idx)).select(["text", "label"]), imdb_path)
    name = f"IMDB test half A ({args.imdb_rows}-row sample, max_length {max_length})"
    return workload(name, imdb_path, args.model_dir, args.bundle, max_length, args.repeats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("bundle")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--imdb-rows", type=int, default=500, help="0 skips IMDB")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved passes; medians kept")
    ap.add_argument("--out", default="benchmarks/results/score_speed")
    args = ap.parse_args()
    from sentiscore.infer.bundle import load_bundle

    max_length = load_bundle(args.bundle).max_length
    rows = workload(
        "SST-2 dev (872 rows)",
        f"{args.data}/sst2/dev.parquet",
        args.model_dir,
        args.bundle,
        max_length,
        args.repeats,
    )
    if args.imdb_rows > 0:
        rows += imdb_workload(args, max_length)
    meta = {
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}",
        "command": "python benchmarks/score_speed.py "
        + " ".join(
            f"{a}"
            for a in [
                args.model_dir,
                args.bundle,
                "--imdb-rows",
                args.imdb_rows,
                "--repeats",
                args.repeats,
            ]
        ),
        "model": args.model_dir,
        "bundle": args.bundle,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump({**meta, "results": rows}, f, indent=2)
    cols = [
        "workload",
        "variant",
        "rows_per_s",
        "x_pipeline",
        "tokens_per_s",
        "padding_efficiency",
        "accuracy",
        "agreement_with_pytorch",
    ]
    lines = [
        f"# Scoring speed ({meta['date']}, {meta['machine']})",
        "",
        f"`{meta['command']}`",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
