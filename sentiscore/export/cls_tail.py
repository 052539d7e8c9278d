"""Compute the encoder's tail for the [CLS] position only: an exact graph rewrite for speed.

A [CLS]-pooled classifier reads one position of the last hidden state (``Gather(axis=1,
index 0)``). Everything between the last attention and that Gather works position by position
(output projection, skip + layer norm, feed-forward, GELU), so it may run on position 0 alone:
the logits are the same, and the last layer's output projection and feed-forward (9 of the
72 h^2 multiply-adds per token of a 6-layer BERT) disappear for every other token.

``slice_cls_tail`` finds that position-wise region by walking back from the Gather, and puts a
``Slice(axis 1, 0:1)`` on each tensor that enters it. When the region starts at ORT's fused
``Attention`` (packed QKV weights, [B] mask index), that attention is split into a query
projection of position 0 only, key and value projections of every position, and a
``MultiHeadAttention`` with one query: the last layer's query projection and most of its score
computation go too. It changes nothing when the graph has no such Gather (mean pooling) or the
region's tensors are used elsewhere. Choosing when to apply it
and checking the result against PyTorch are ``run``'s and ``parity``'s business.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# Ops that compute each sequence position from that position alone (given constant
# parameters of rank <= 1, or a 2-D weight for MatMul).
POSITIONWISE = {
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Erf",
    "Tanh",
    "Relu",
    "Sqrt",
    "Pow",
    "Cast",
    "Gelu",
    "FastGelu",
    "BiasGelu",
    "LayerNormalization",
    "SkipLayerNormalization",
    "SimplifiedLayerNormalization",
    "SkipSimplifiedLayerNormalization",
}


def slice_cls_tail(src: str, dst: str) -> dict:
    """Rewrite ``src`` into ``dst``; return the counts of tail nodes, slices and one-query
    attentions (zeros when the rewrite does not apply, in which case ``dst`` is a plain copy)."""
    import onnx

    model = onnx.load(src)
    graph = model.graph
    consts = _constants(graph)
    gather = _cls_gather(graph, consts)
    region = _positionwise_region(graph, gather, consts) if gather is not None else []
    slices = _insert_slices(graph, region, consts) if region else 0
    if not slices:
        region = []
    query = _query_cls_only(graph, consts) if slices else 0
    onnx.save(model, dst)
    if region:
        log.info(
            "[CLS] tail: %d nodes run on position 0 only (%d slices, %d one-query attention)",
            len(region),
            slices,
            query,
        )
    return {"cls_tail_nodes": len(region), "cls_tail_slices": slices, "cls_query_attention": query}


def _constants(graph) -> dict:
    """Name -> numpy value of every initializer, Constant-node output and Identity of one
    (unfused exports route shared weights through Identity nodes)."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    return values


def _axis(node, default: int = 0) -> int:
    for a in node.attribute:
        if a.name == "axis":
            return a.i
    return default


def _cls_gather(graph, consts: dict) -> int | None:
    """Index of the single ``Gather(axis=1, indices=0 scalar)`` that picks the [CLS] position."""
    found = [
        k
        for k, n in enumerate(graph.node)
        if n.op_type == "Gather"
        and _axis(n) == 1
        and n.input[1] in consts
        and consts[n.input[1]].ndim == 0
        and int(consts[n.input[1]]) == 0
        and n.input[0] not in consts
    ]
    return found[0] if len(found) == 1 else None


def _is_positionwise(node, consts: dict) -> bool:
    if node.op_type not in POSITIONWISE or node.domain not in ("", "com.microsoft"):
        return False
    params = [consts[i] for i in node.input if i and i in consts]
    if node.op_type == "MatMul":
        return len(node.input) == 2 and node.input[1] in consts and consts[node.input[1]].ndim == 2
    return all(p.ndim <= 1 for p in params)


def _positionwise_region(graph, start: int, consts: dict) -> list:
    """Nodes whose every output feeds only the region or the Gather, walking back in
    topological order; stops at the first node that is not position-wise. (Nodes are
    tracked by index: protobuf hands out a new wrapper object on every access.)"""
    nodes = list(graph.node)
    consumers: dict = {}
    for k, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, []).append(k)
    outputs = {o.name for o in graph.output}
    members = {start}
    for k in range(start - 1, -1, -1):
        node = nodes[k]
        used = [c for o in node.output if o for c in consumers.get(o, [])]
        if (
            used
            and all(c in members for c in used)
            and not any(o in outputs for o in node.output)
            and _is_positionwise(node, consts)
        ):
            members.add(k)
    return sorted(members - {start})


def _insert_slices(graph, region: list, consts: dict) -> int:
    """Put ``Slice(t, [0], [1], axes=[1])`` on each non-constant tensor entering the region
    (``region``: node indices), right before its first reader."""
    import numpy as np
    from onnx import helper, numpy_helper

    nodes = list(graph.node)
    made = {o for k in region for o in nodes[k].output}
    first_reader: dict = {}
    for k in region:
        for name in nodes[k].input:
            if name and name not in consts and name not in made:
                first_reader.setdefault(name, k)
    graph_inputs = {i.name for i in graph.input}
    if any(name in graph_inputs for name in first_reader):
        log.info("[CLS] tail: the region reaches a graph input; left unchanged")
        return 0
    for key in ("starts", "ends", "axes"):
        value = [1] if key != "starts" else [0]
        graph.initializer.append(
            numpy_helper.from_array(np.array(value, dtype=np.int64), f"cls_tail_{key}")
        )
    for k in region:
        node = nodes[k]
        for j, name in enumerate(node.input):
            if name in first_reader:
                node.input[j] = f"{name}_cls_tail"
    order = sorted(first_reader.items(), key=lambda item: -item[1])
    for offset, (name, k) in enumerate(order):
        graph.node.insert(
            k,
            helper.make_node(
                "Slice",
                [name, "cls_tail_starts", "cls_tail_ends", "cls_tail_axes"],
                [f"{name}_cls_tail"],
                name=f"ClsTailSlice_{offset}",
            ),
        )
    return len(order)


def _query_cls_only(graph, consts: dict) -> int:
    """Replace the fused Attention that feeds a tail Slice by a one-query MultiHeadAttention."""
    nodes = list(graph.node)
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    readers: dict = {}
    for node in nodes:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    cut = next(
        (
            n
            for n in nodes
            if n.name.startswith("ClsTailSlice")
            and n.input[0] in producer
            and readers[n.input[0]] == 1
            and _plain_attention(nodes[producer[n.input[0]]], consts, nodes, producer)
        ),
        None,
    )
    if cut is None:
        return 0
    k = producer[cut.input[0]]
    att = nodes[k]
    new = _one_query_attention(graph, att, cut.output[0], consts[att.input[1]])
    graph.node.remove(cut)
    graph.node.remove(att)
    for j, node in enumerate(new):
        graph.node.insert(k + j, node)
    if readers[att.input[1]] == 1:  # the packed QKV weight now has no reader
        graph.initializer.remove(next(t for t in graph.initializer if t.name == att.input[1]))
    return 1


def _one_query_attention(graph, att, out_name: str, weight) -> list:
    """Nodes computing ``att`` for position 0's query only, written to ``out_name``."""
    from onnx import helper, numpy_helper

    name, x, bias = att.name, att.input[0], att.input[2]
    mask = att.input[3] if len(att.input) > 3 else ""
    hidden = weight.shape[1] // 3
    for j, part in enumerate("qkv"):
        block = weight[:, j * hidden : (j + 1) * hidden].copy()
        graph.initializer.append(numpy_helper.from_array(block, f"{name}_{part}_weight"))
    slice_in = [x, "cls_tail_starts", "cls_tail_ends", "cls_tail_axes"]
    return [
        helper.make_node("Slice", slice_in, [f"{name}_x_cls"], name=f"{name}_ClsQuerySlice"),
        *(
            helper.make_node(
                "MatMul",
                [f"{name}_x_cls" if part == "q" else x, f"{name}_{part}_weight"],
                [f"{name}_{part}"],
                name=f"{name}_ClsQuery_{part}",
            )
            for part in "qkv"
        ),
        helper.make_node(
            "MultiHeadAttention",
            [f"{name}_q", f"{name}_k", f"{name}_v", bias, mask],
            [out_name],
            name=f"{name}_ClsQuery",
            domain="com.microsoft",
            **{a.name: helper.get_attribute_value(a) for a in att.attribute},
        ),
    ]


def _plain_attention(node, consts: dict, nodes: list, producer: dict) -> bool:
    """ORT's fused self-attention with packed QKV weights and a [B] mask index (or none)."""
    if node.op_type != "Attention" or node.domain != "com.microsoft":
        return False
    attrs = {a.name for a in node.attribute}
    if not attrs <= {"num_heads", "mask_filter_value", "scale"} or len(node.input) > 4:
        return False
    weight = consts.get(node.input[1])
    if weight is None or weight.ndim != 2 or weight.shape[1] != 3 * weight.shape[0]:
        return False
    if node.input[2] not in consts:
        return False
    mask = node.input[3] if len(node.input) > 3 else ""
    if not mask:
        return True
    source = nodes[producer[mask]] if mask in producer else None
    return (
        source is not None
        and source.op_type == "EmbedLayerNormalization"
        and (list(source.output).index(mask) == 1)
    )
