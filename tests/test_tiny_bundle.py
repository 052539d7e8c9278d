"""The committed tiny bundle (the torch-free test tier's model) is what the export stage makes."""

import collections
import json

import numpy as np
import pytest

from sentiscore.samples import builtin_sample

STRUCTURE = ("format", "labels", "max_length", "truncation", "lowercase", "pooling", "fused_ops")
DETAILS = (
    "activation_quant",
    "row_invariant",
    "gelu",
    "gelu_replaced",
    "cls_tail_nodes",
    "cls_query_attention",
    "skip_layernorm_split",
    "per_channel",
    "weight_type",
    "quantized_layers",
    "kept_layers",
)


def _ops(path):
    onnx = pytest.importorskip("onnx")
    return collections.Counter(n.op_type for n in onnx.load(path).graph.node)


def test_committed_tiny_bundle_matches_a_fresh_export(tiny_bundle, exported_tiny_bundle):
    from sentiscore.infer.batching import iter_micro_batches
    from sentiscore.infer.session import OrtRunner
    from sentiscore.infer.tokenize import TextEncoder

    old = json.loads(open(f"{tiny_bundle}/sentiscore.json").read())
    new = json.loads(open(f"{exported_tiny_bundle}/sentiscore.json").read())
    assert {k: old[k] for k in STRUCTURE} == {k: new[k] for k in STRUCTURE}
    assert sorted(old["variants"]) == ["fp32", "int8", "int8-static"]  # export's defaults
    for variant in ("fp32", "int8", "int8-static"):
        a, b = old["variants"][variant], new["variants"][variant]
        assert {k: a.get(k) for k in DETAILS} == {k: b.get(k) for k in DETAILS}, variant
        assert _ops(f"{tiny_bundle}/{a['file']}") == _ops(f"{exported_tiny_bundle}/{b['file']}")
    # same graph and weights: the same token ids give the same logits
    enc = TextEncoder(f"{tiny_bundle}/tokenizer.json", old["max_length"], old["truncation"])
    ids = enc.encode(builtin_sample(40))
    files = ("model.onnx", "model.int8.onnx", "model.int8-static.onnx")
    # static scales are calibrated on the export's fp32 graph: its float rounding can move a
    # value across a quantisation step, so int8-static matches to a step, not to rounding
    for file, tol in zip(files, (1e-5, 1e-5, 1e-3)):
        outs = []
        for bundle in (tiny_bundle, exported_tiny_bundle):
            runner, logits = OrtRunner(f"{bundle}/{file}", "cpu"), np.zeros((len(ids), 2))
            for mb in iter_micro_batches(ids, 256, enc.pad_id):
                logits[mb.rows] = runner.run(mb.input_ids, mb.attention_mask)
            outs.append(logits)
        assert np.abs(outs[0] - outs[1]).max() <= tol, file
