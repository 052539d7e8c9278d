"""split_skip_layernorm: ORT's fused SkipLayerNormalization written out as Add + LayerNormalization
gives the same outputs (with and without bias, with the skip-sum output read downstream)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from sentiscore.export.convert import split_skip_layernorm  # noqa: E402

H = 8


def _graph(tmp_path, bias: bool, read_sum: bool) -> str:
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.normal(size=H).astype(np.float32), name)
        for name in ("gamma", "beta", "bias")
    ]
    inputs = ["x", "skip", "gamma", "beta"] + (["bias"] if bias else [])
    outputs = ["y", "", "", "sum"] if read_sum else ["y"]
    nodes = [
        helper.make_node(
            "SkipLayerNormalization",
            inputs,
            outputs,
            domain="com.microsoft",
            name="sln",
            epsilon=1e-5,
        ),
        # a second consumer, like the next layer's residual
        helper.make_node("Mul", ["sum" if read_sum else "y", "y"], ["z"]),
    ]
    value = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["b", "s", H])  # noqa: E731
    graph = helper.make_graph(nodes, "g", [value("x"), value("skip")], [value("z")], inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    path = str(tmp_path / f"g_{bias}_{read_sum}.onnx")
    onnx.save(model, path)
    return path


def _run(path, feed):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["z"], feed)[0]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("read_sum", [True, False])
def test_split_keeps_outputs(tmp_path, bias, read_sum):
    src = _graph(tmp_path, bias, read_sum)
    dst = str(tmp_path / "split.onnx")
    assert split_skip_layernorm(src, dst) == 1
    ops = [n.op_type for n in onnx.load(dst).graph.node]
    assert "SkipLayerNormalization" not in ops
    assert ops.count("Add") == (2 if bias else 1) and ops.count("LayerNormalization") == 1
    rng = np.random.default_rng(2)
    feed = {k: rng.normal(size=(3, 5, H)).astype(np.float32) for k in ("x", "skip")}
    np.testing.assert_allclose(_run(dst, feed), _run(src, feed), atol=1e-5)


def test_graph_without_skip_layernorm_is_unchanged(tmp_path):
    src = _graph(tmp_path, True, False)
    once = str(tmp_path / "once.onnx")
    split_skip_layernorm(src, once)
    assert split_skip_layernorm(once, str(tmp_path / "twice.onnx")) == 0
