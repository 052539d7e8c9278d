"""ONNX Runtime alone on pre-tokenised SST-2 dev: length-sorted micro-batches (<= 4,096 tokens,
<= 256 rows), one session, 2 intra-op threads, full graph optimisation. Prints rows/s per pass.
It isolates ORT's kernels from sentiscore's reading, tokenising and writing; run it under
several venvs to compare ONNX Runtime versions on the same graph (session 4 finding in
results/score_speed.md). Needs only numpy and onnxruntime.

usage: python benchmarks/ort_alone.py prep BUNDLE IDS.npz      (dev venv: tokenise with the bundle)
       python benchmarks/ort_alone.py run MODEL.onnx IDS.npz [PASSES]
"""

import sys
import time

import numpy as np


def prep(bundle: str, out: str) -> None:
    import pandas as pd

    from sentiscore.infer.scorer import Scorer

    s = Scorer.load(bundle, device="cpu", precision="fp32")
    df = pd.read_parquet("../shared/data/sst2/dev.parquet")
    np.savez(out, *s.encoder.encode(list(df.text)))


def micro_batches(ids, budget=4096, cap=256):
    order = np.argsort([len(x) for x in ids], kind="stable")
    out, cur, longest = [], [], 0
    for i in order:
        grow = max(longest, len(ids[i]))
        if cur and (grow * (len(cur) + 1) > budget or len(cur) >= cap):
            out.append(cur)
            cur, grow = [], len(ids[i])
        cur.append(i)
        longest = grow
    return out + [cur]


def feed(ids, rows, names):
    width = max(len(ids[r]) for r in rows)
    a = np.zeros((len(rows), width), np.int64)
    m = np.zeros_like(a)
    for k, r in enumerate(rows):
        a[k, : len(ids[r])], m[k, : len(ids[r])] = ids[r], 1
    f = {"input_ids": a, "attention_mask": m, "token_type_ids": np.zeros_like(a)}
    return {k: v for k, v in f.items() if k in names}


def run(model: str, path: str, passes: int) -> None:
    import onnxruntime as ort

    z = np.load(path)
    ids = [z[k] for k in z.files]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads, so.enable_mem_pattern = 2, False
    se = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    names = {i.name for i in se.get_inputs()}
    feeds = [feed(ids, rows, names) for rows in micro_batches(ids)]
    for f in feeds[:3]:
        se.run(None, f)
    rates = []
    for _ in range(passes):
        t = time.perf_counter()
        for f in feeds:
            se.run(None, f)
        rates.append(round(len(ids) / (time.perf_counter() - t), 1))
    print(ort.__version__, model, "rows/s per pass", rates)


if __name__ == "__main__":
    if sys.argv[1] == "prep":
        prep(sys.argv[2], sys.argv[3])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 3)
