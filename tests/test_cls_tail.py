"""The [CLS]-tail rewrite: same outputs, position-wise nodes moved behind a Slice, and left
alone when the region's tensors are used elsewhere or the read-out is not a [CLS] Gather."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from sentiscore.export.cls_tail import slice_cls_tail  # noqa: E402


def _graph(tmp_path, extra_output: bool = False, axis: int = 1):
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(4, 4)).astype(np.float32), "w_mix"),
        numpy_helper.from_array(rng.normal(size=(4, 6)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(size=6).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(size=(6, 4)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
    ]
    nodes = [
        # mixes positions (stands for attention): x @ x^T @ x, not position-wise
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["x", "xt"], ["scores"]),
        helper.make_node("MatMul", ["scores", "x"], ["mixed"]),
        helper.make_node("MatMul", ["mixed", "w1"], ["h1"]),
        helper.make_node("Add", ["h1", "b1"], ["h2"]),
        helper.make_node("Tanh", ["h2"], ["h3"]),
        helper.make_node("MatMul", ["h3", "w2"], ["h4"]),
        helper.make_node("Add", ["h4", "mixed"], ["h5"]),  # residual from outside the region
        helper.make_node("Gather", ["h5", "zero"], ["y"], axis=axis),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info("h3", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 4])],
        outputs,
        inits,
    )
    path = str(tmp_path / "g.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _run(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(["y"], {"x": x})[0]


def test_rewrite_keeps_outputs_and_slices_the_tail(tmp_path):
    src = _graph(tmp_path)
    dst = str(tmp_path / "out.onnx")
    info = slice_cls_tail(src, dst)
    # h1..h5; "mixed" sliced once; no fused Attention to give a single query
    assert info == {"cls_tail_nodes": 5, "cls_tail_slices": 1, "cls_query_attention": 0}
    x = np.random.default_rng(1).normal(size=(3, 7, 4)).astype(np.float32)
    assert np.allclose(_run(src, x), _run(dst, x), atol=1e-4)
    nodes = onnx.load(dst).graph.node
    slices = [n for n in nodes if n.op_type == "Slice"]
    assert len(slices) == 1 and slices[0].input[0] == "mixed"
    # the position-mixing MatMul still reads the full tensor; the tail reads the slice
    readers = {n.output[0]: list(n.input) for n in nodes}
    assert readers["h1"][0] == "mixed_cls_tail" and readers["h5"][1] == "mixed_cls_tail"


@pytest.mark.parametrize("extra_output, axis", [(True, 1), (False, 2)])
def test_rewrite_leaves_graph_alone_when_it_does_not_apply(tmp_path, extra_output, axis):
    src = _graph(tmp_path, extra_output=extra_output, axis=axis)
    dst = str(tmp_path / "out.onnx")
    info = slice_cls_tail(src, dst)
    if extra_output:  # h3 is a graph output: only h4, h5 may move behind the slice
        assert info == {"cls_tail_nodes": 2, "cls_tail_slices": 2, "cls_query_attention": 0}
        x = np.random.default_rng(2).normal(size=(2, 5, 4)).astype(np.float32)
        assert np.allclose(_run(src, x), _run(dst, x), atol=1e-4)
    else:  # Gather on another axis is not a [CLS] read-out
        assert info == {"cls_tail_nodes": 0, "cls_tail_slices": 0, "cls_query_attention": 0}
        assert not [n for n in onnx.load(dst).graph.node if n.op_type == "Slice"]


def test_exported_bundle_runs_its_tail_on_cls_only(exported_tiny_bundle):
    meta = json.loads(open(f"{exported_tiny_bundle}/sentiscore.json").read())
    fp32 = meta["variants"]["fp32"]
    assert fp32["cls_tail_nodes"] >= 6  # O-proj, 2 skip-LN, FFN, GELU
    assert fp32["cls_query_attention"] == 1 and meta["fused_ops"]["Attention"] == 2
    for name in ("model.onnx", "model.int8.onnx"):
        nodes = onnx.load(f"{exported_tiny_bundle}/{name}").graph.node
        # the residual keeps its tail slice; the attention output is already one position
        assert sum(n.name.startswith("ClsTailSlice") for n in nodes) == 1, name
        one_query = [n for n in nodes if n.op_type == "MultiHeadAttention" and "ClsQuery" in n.name]
        assert len(one_query) == 1, name
        assert sum(n.op_type == "Slice" and "Cls" in n.name for n in nodes) == 2, name


def test_unfused_export_gets_the_tail_too(tiny_model_dir, tmp_path):
    """--optimize O1 keeps optimum's graph, whose shared weights pass through Identity nodes."""
    pytest.importorskip("optimum.exporters.onnx")
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    cfg = ExportConfig(precision="fp32,int8", optimize="O1", max_length=32, samples=40)
    report = export_model(tiny_model_dir, str(tmp_path / "b"), cfg)
    assert not report.failed and report.variants[0].max_abs_delta < 1e-4
    fp32 = json.loads((tmp_path / "b" / "sentiscore.json").read_text())["variants"]["fp32"]
    assert fp32["cls_tail_nodes"] >= 10 and fp32["cls_query_attention"] == 0
