"""Per-row int8: make a dynamically quantised graph give every row the same answer in any batch.

ONNX Runtime's dynamic quantisation (``quantize_dynamic``) puts a ``DynamicQuantizeLinear`` in
front of every integer matmul. It picks *one* scale and zero point for the whole activation
tensor, i.e. for the whole micro-batch: a row's probabilities then depend on which other rows
it was batched with (measured on SST-2 dev: up to 0.29 in probability, 1 % of labels flipped).

``per_row_int8`` rewrites such a graph so that each activation vector (one token of one row, the
last axis) is quantised with a scale of its own: ``s = max|x| / 127``, ``q = round(x / s) + 128``
as uint8 with the fixed zero point 128. The int8 weights are kept as they are, so the model
file stays the same size and the integer matmuls (u8 x s8, ONNX Runtime's fast path) stay the
same; only the few element-wise ops around them change. Every quantised value now depends on
its own token alone, so a row's logits do not depend on its batch, its padding or the thread
count beyond float rounding (~1e-6). Per-token scales are also finer than one per tensor.

Consumers handled: ``MatMulInteger`` (+ its ``Cast``/``Mul`` rescale) and ONNX Runtime's fused
``QAttention``, which only takes a per-tensor scale: it is replaced by an integer matmul for
the packed Q/K/V projection and a float ``MultiHeadAttention``. Anything else reading a
``DynamicQuantizeLinear`` output makes the rewrite refuse (``ExportError``), rather than
leave a batch-dependent node behind. Quantising is ``convert``'s job; checking the result
against PyTorch is ``parity``'s.
"""

from __future__ import annotations

import logging

import numpy as np

from sentiscore.errors import ExportError

log = logging.getLogger(__name__)
ZERO_POINT = 128  # symmetric uint8: round(x / s) in [-127, 127] is stored as [1, 255]


def per_row_int8(src: str, dst: str) -> dict:
    """Rewrite the dynamic int8 model ``src`` into ``dst``; return counts of what changed."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(src)
    graph = model.graph
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(ZERO_POINT, np.uint8), "rowq_zero_point"),
            numpy_helper.from_array(np.array(127.0, np.float32), "rowq_127"),
            numpy_helper.from_array(np.array(1e-12, np.float32), "rowq_eps"),
            numpy_helper.from_array(np.array(ZERO_POINT, np.float32), "rowq_128f"),
            numpy_helper.from_array(np.array(0.0, np.float32), "rowq_zero"),
            numpy_helper.from_array(np.array([0], np.int64), "rowq_s0"),
            numpy_helper.from_array(np.array([-1], np.int64), "rowq_s1"),
            numpy_helper.from_array(np.array([1], np.int64), "rowq_one"),
            numpy_helper.from_array(np.array([2**62], np.int64), "rowq_end"),
        ]
    )
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    if opset >= 18:
        graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "rowq_axes"))
    readers = _readers(graph)
    counts = {"quantizers": 0, "qattention": 0}
    new_nodes = []
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            _check_readers(node, readers)
            new_nodes.extend(_row_quantizer(helper, node, opset))
            counts["quantizers"] += 1
        elif node.op_type == "QAttention" and node.domain == "com.microsoft":
            new_nodes.extend(_float_attention(helper, node, opset))
            counts["qattention"] += 1
        else:
            new_nodes.append(node)
    if not counts["quantizers"]:
        raise ExportError(
            "A dynamically quantised graph (DynamicQuantizeLinear nodes) to rewrite per row",
            f"none in {src}",
            "quantise with quantize_dynamic first",
        )
    del graph.node[:]
    graph.node.extend(new_nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, dst)
    log.info("per-row int8: %s", counts)
    return counts


def _readers(graph) -> dict:
    out: dict = {}
    for node in graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    return out


def _check_readers(node, readers: dict) -> None:
    """Only readers whose per-tensor parameters this module can replace may follow."""
    for output in node.output:
        for reader in readers.get(output, []):
            ok = reader.op_type in ("MatMulInteger", "QAttention") or (
                reader.op_type == "Mul" and output == node.output[1]
            )
            if not ok:
                raise ExportError(
                    "Quantised activations read only by MatMulInteger, QAttention or a scale Mul",
                    f"{reader.op_type} '{reader.name}' reads '{output}'",
                    "export with --precision fp32, or exclude that node from quantisation",
                )


def _row_quantizer(helper, node, opset: int) -> list:
    """Nodes giving (q uint8, s per row [..., 1], zero point 128) under the old output names.

    The activations are viewed as a matrix of rows (tokens) x features, so that ONNX's
    per-axis ``QuantizeLinear`` (axis 0, one scale per row) does the rounding in one pass."""
    x = node.input[0]
    q, s, zp = node.output
    p = node.name or q
    mk = helper.make_node
    if opset >= 18:  # axes moved from an attribute to an input in opset 18
        red = {"inputs": ["rowq_axes"], "attrs": {"keepdims": 0}}
    else:
        red = {"inputs": [], "attrs": {"axes": [-1], "keepdims": 0}}
    return [
        mk("Shape", [x], [f"{p}_shape"], name=f"{p}_RowShape"),
        mk("Slice", [f"{p}_shape", "rowq_s1", "rowq_end"], [f"{p}_width"], name=f"{p}_RowWidth"),
        mk("Concat", ["rowq_s1", f"{p}_width"], [f"{p}_flat"], name=f"{p}_RowFlatShape", axis=0),
        mk("Reshape", [x, f"{p}_flat"], [f"{p}_2d"], name=f"{p}_RowFlat"),
        # max |x| per row from two read-only reductions (no full-size |x| tensor)
        mk(
            "ReduceMax",
            [f"{p}_2d", *red["inputs"]],
            [f"{p}_hi"],
            name=f"{p}_RowMax",
            **red["attrs"],
        ),
        mk(
            "ReduceMin",
            [f"{p}_2d", *red["inputs"]],
            [f"{p}_lo"],
            name=f"{p}_RowMin",
            **red["attrs"],
        ),
        mk("Neg", [f"{p}_lo"], [f"{p}_nlo"], name=f"{p}_RowNeg"),
        mk("Max", [f"{p}_hi", f"{p}_nlo", "rowq_eps"], [f"{p}_absmax"], name=f"{p}_RowAbsMax"),
        mk("Div", [f"{p}_absmax", "rowq_127"], [f"{p}_s1"], name=f"{p}_RowScale"),
        mk("Mul", [f"{p}_s1", "rowq_zero"], [f"{p}_z0"], name=f"{p}_RowZero"),
        mk("Add", [f"{p}_z0", "rowq_128f"], [f"{p}_z1"], name=f"{p}_RowShift"),
        mk("Cast", [f"{p}_z1"], [f"{p}_zps"], name=f"{p}_RowZeroPoints", to=2),  # uint8
        mk(
            "QuantizeLinear",
            [f"{p}_2d", f"{p}_s1", f"{p}_zps"],
            [f"{p}_q2d"],
            name=f"{p}_RowQuant",
            axis=0,
        ),
        mk("Reshape", [f"{p}_q2d", f"{p}_shape"], [q], name=f"{p}_RowUnflat"),
        # the scale broadcast over the features: shape (..., 1)
        mk("Slice", [f"{p}_shape", "rowq_s0", "rowq_s1"], [f"{p}_lead"], name=f"{p}_RowLead"),
        mk("Concat", [f"{p}_lead", "rowq_one"], [f"{p}_sshape"], name=f"{p}_RowScaleShape", axis=0),
        mk("Reshape", [f"{p}_s1", f"{p}_sshape"], [s], name=f"{p}_RowScaleOut"),
        mk("Identity", ["rowq_zero_point"], [zp], name=f"{p}_RowZeroPoint"),
    ]


def _float_attention(helper, node, opset: int) -> list:
    """QAttention(x_q, W_q, bias, x_scale, W_scale, mask[, x_zp, W_zp]) as an integer Q/K/V
    projection with the per-row scale, then a float MultiHeadAttention (same mask, heads)."""
    ins = list(node.input) + [""] * (8 - len(node.input))
    xq, wq, bias, xs, ws, mask, xzp, wzp = ins[:8]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    unsupported = set(attrs) - {"num_heads", "mask_filter_value", "scale"}
    if unsupported or any(node.input[8:]) or attrs.get("unidirectional"):
        raise ExportError(
            "A plain bidirectional QAttention to rewrite per row",
            f"attributes {sorted(attrs)} on '{node.name}'",
            "export with --precision fp32",
        )
    p = node.name
    mk = helper.make_node
    return [
        mk(
            "MatMulInteger",
            [xq, wq, xzp or "rowq_zero_point", wzp],
            [f"{p}_qkv_i"],
            name=f"{p}_QkvInt",
        ),
        # the pattern ONNX Runtime fuses into MatMulIntegerToFloat
        mk("Mul", [xs, ws], [f"{p}_scales"], name=f"{p}_QkvScales"),
        mk("Cast", [f"{p}_qkv_i"], [f"{p}_qkv_f"], name=f"{p}_QkvCast", to=1),
        mk("Mul", [f"{p}_qkv_f", f"{p}_scales"], [f"{p}_qkv"], name=f"{p}_QkvRescale"),
        mk(
            "Split",
            [f"{p}_qkv"],
            [f"{p}_q", f"{p}_k", f"{p}_v"],
            name=f"{p}_QkvSplit",
            axis=-1,
            **({"num_outputs": 3} if opset >= 18 else {}),  # required from opset 18
        ),
        mk(
            "MultiHeadAttention",
            [f"{p}_q", f"{p}_k", f"{p}_v", bias, mask],
            list(node.output),
            name=f"{p}_Mha",
            domain="com.microsoft",
            **attrs,
        ),
    ]
