"""ORT's fused SkipLayerNormalization vs Add + LayerNormalization on the CPU (issue 3, session 7).

kernels [M ...]: one-op graphs (input + skip + bias -> layer norm, hidden 384, one thread),
    timed interleaved, 3 rounds of 200 runs each, for M tokens per call (default 500 4096).
graphs A.onnx B.onnx [ROUNDS]: two int8/fp32 bundle graphs over SST-2 dev's micro-batches (one
    thread, one stream), interleaved passes; prints pass times and paired ratios A/B.

usage: python benchmarks/skip_layernorm.py kernels 500 4096
       python benchmarks/skip_layernorm.py graphs OLD/model.int8.onnx NEW/model.int8.onnx 4
Results: results/score_speed.md (session 7).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

H = 384


def _session(model_bytes_or_path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.enable_mem_pattern = False
    return ort.InferenceSession(model_bytes_or_path, so, providers=["CPUExecutionProvider"])


def _kernel_models() -> dict:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.random(H, dtype=np.float32), n) for n in ("g", "b", "bias")
    ]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["B", "S", H]) for n in "xsy"]
    variants = {
        "SkipLayerNormalization": [
            helper.make_node(
                "SkipLayerNormalization",
                ["x", "s", "g", "b", "bias"],
                ["y"],
                domain="com.microsoft",
                epsilon=1e-12,
            )
        ],
        "Add+Add+LayerNormalization": [
            helper.make_node("Add", ["x", "s"], ["t0"]),
            helper.make_node("Add", ["t0", "bias"], ["t1"]),
            helper.make_node("LayerNormalization", ["t1", "g", "b"], ["y"], epsilon=1e-12),
        ],
    }
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return {
        name: _session(
            helper.make_model(
                helper.make_graph(nodes, name, io[:2], io[2:], inits), opset_imports=opsets
            ).SerializeToString()
        )
        for name, nodes in variants.items()
    }


def kernels(sizes: list[int]) -> None:
    sessions = _kernel_models()
    for m in sizes:
        feed = {k: np.random.rand(1, m, H).astype(np.float32) for k in ("x", "s")}
        outs = [s.run(None, feed)[0] for s in sessions.values()]
        print(f"M={m}: max |difference| {np.abs(outs[0] - outs[1]).max():.1e}")
        for rnd in range(3):
            for name, s in sessions.items():
                t = time.perf_counter()
                for _ in range(200):
                    s.run(None, feed)
                ms = (time.perf_counter() - t) / 200 * 1e3
                print(
                    f"  round {rnd} {name:<28} {ms:7.3f} ms  {ms * 1e6 / (m * H):5.2f} ns/element"
                )


def graphs(paths: list[str], rounds: int) -> None:
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    from sentiscore.infer.batching import iter_micro_batches

    tok = Tokenizer.from_file(paths[0].rsplit("/", 1)[0] + "/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(512)
    texts = pq.read_table("../shared/data/sst2/dev.parquet").column("text").to_pylist()
    ids = [np.array(e.ids) for e in tok.encode_batch(texts)]
    batches = list(iter_micro_batches(ids, 4096))
    sessions = [_session(p) for p in paths]

    def one_pass(s) -> float:
        names = {i.name for i in s.get_inputs()}
        t = time.perf_counter()
        for mb in batches:
            feed = {"input_ids": mb.input_ids, "attention_mask": mb.attention_mask}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.zeros_like(mb.input_ids)
            s.run(None, feed)
        return time.perf_counter() - t

    times = [[], []]
    for _ in range(rounds):
        for i, s in enumerate(sessions):
            times[i].append(one_pass(s))
    for p, t in zip(paths, times):
        print(p, [round(x, 3) for x in t], "median", round(float(np.median(t)), 3))
    print("paired A/B", [round(a / b, 3) for a, b in zip(*times)])


if __name__ == "__main__":
    if sys.argv[1:2] == ["kernels"]:
        kernels([int(x) for x in sys.argv[2:]] or [500, 4096])
    elif sys.argv[1:2] == ["graphs"] and len(sys.argv) >= 4:
        graphs(sys.argv[2:4], int(sys.argv[4]) if len(sys.argv) > 4 else 4)
    else:
        sys.exit(__doc__)
