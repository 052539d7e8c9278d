"""Which dynamic-int8 settings to default to: weight type x per-channel x reduce_range, all
on the ORT-fused fp32 graph of a fine-tuned model, measured on labeled data in one run.

usage: python benchmarks/int8_options.py BUNDLE_WITH_FP32 DATA.parquet [--out benchmarks/results/int8_options]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from datetime import date

import pyarrow.parquet as pq

from sentiscore.export.convert import quantize_int8
from sentiscore.export.parity import onnx_logits
from sentiscore.infer.bundle import load_bundle
from sentiscore.infer.tokenize import TextEncoder

OPTIONS = [
    ("QInt8 per-channel", "qint8", True, False),
    ("QInt8 per-tensor", "qint8", False, False),
    ("QUInt8 per-channel", "quint8", True, False),
    ("QUInt8 per-tensor", "quint8", False, False),
    ("QInt8 per-channel, reduce_range", "qint8", True, True),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle")
    ap.add_argument("data")
    ap.add_argument("--out", default="benchmarks/results/int8_options")
    args = ap.parse_args()
    b = load_bundle(args.bundle, verify=False)
    t = pq.read_table(args.data)
    y = t.column("label").to_numpy()
    enc = TextEncoder(b.tokenizer_path, b.max_length, b.truncation)
    ids = enc.encode(t.column("text").to_pylist())
    fp32 = os.path.join(b.path, "model.onnx")
    ref, ref_ms = onnx_logits("fp32", fp32, "cpu", ids, enc.pad_id)
    rows = [
        {
            "variant": "fp32 (fused)",
            "accuracy": float((ref.argmax(1) == y).mean()),
            "agreement": 1.0,
            "ms_per_row": ref_ms,
            "speedup": 1.0,
            "mb": os.path.getsize(fp32) / 2**20,
        }
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, wt, pc, rr in OPTIONS:
            path = os.path.join(tmp, "q.onnx")
            quantize_int8(fp32, path, pc, wt, rr, ())
            logits, ms = onnx_logits("int8", path, "cpu", ids, enc.pad_id)
            rows.append(
                {
                    "variant": name,
                    "accuracy": float((logits.argmax(1) == y).mean()),
                    "agreement": float((logits.argmax(1) == ref.argmax(1)).mean()),
                    "ms_per_row": ms,
                    "speedup": ref_ms / ms,
                    "mb": os.path.getsize(path) / 2**20,
                }
            )
    meta = {
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (AVX2, no VNNI)",
        "bundle": args.bundle,
        "data": args.data,
        "rows": len(y),
        "command": f"python benchmarks/int8_options.py {args.bundle} {args.data}",
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    json.dump({**meta, "results": rows}, open(args.out + ".json", "w"), indent=2)
    lines = [
        f"# Dynamic int8 options ({meta['date']}, {meta['machine']})",
        "",
        f"`{meta['command']}` ({len(y)} rows)",
        "",
        "| variant | accuracy | agreement with fp32 | ms/row | speed vs fp32 | MB |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | {r['accuracy']:.2%} | {r['agreement']:.2%} | {r['ms_per_row']:.2f} | {r['speedup']:.2f}x | {r['mb']:.1f} |"
        for r in rows
    ]
    open(args.out + ".md", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
