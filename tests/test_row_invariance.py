"""A row's probabilities do not depend on the rows it is scored with: batch, token budget,
chunking, threads, input order. Every variant ``--precision auto`` can pick on CPU is held to
max |dp| <= 1e-3 and no label flips; the stock per-tensor int8 is never picked by auto."""

import json
import logging
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.errors import BundleError
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light  # no torch needed: the torch-free test tier


TOL = 1e-3


def _texts(n=60):
    rows = [t for t, _ in sample_reviews(n, seed=3)]
    # very short and very long rows in one batch: padding differs most
    return rows + ["Meh.", "Good.", " ".join(rows[:8]) * 3]


def _probs(scorer, texts):
    return scorer.probabilities(texts)


def _assert_same(a, b):
    assert np.abs(a - b).max() <= TOL
    assert (a.argmax(1) == b.argmax(1)).all()


@pytest.fixture(scope="module")
def per_tensor_bundle(tmp_path_factory, tiny_model_dir):
    pytest.importorskip("optimum.exporters.onnx")
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    out = str(tmp_path_factory.mktemp("pt") / "b")
    cfg = ExportConfig(
        precision="fp32,int8", max_length=32, samples=64, int8_activations="per-tensor", force=True
    )
    export_model(tiny_model_dir, out, cfg)
    return out


def test_auto_picks_per_row_int8_and_it_is_row_invariant(tiny_bundle):
    from sentiscore.infer.scorer import Scorer

    meta = json.loads(open(f"{tiny_bundle}/sentiscore.json").read())
    int8 = meta["variants"]["int8"]
    assert int8["activation_quant"] == "per-row" and int8["row_invariant"] is True
    assert int8["parity"]["row_invariance_max_dp"] <= TOL
    texts = _texts()
    auto = Scorer.load(tiny_bundle, device="cpu")
    # whichever row-invariant variant measured fastest on this CPU
    assert auto.precision in ("int8-static", "bf16", "int8", "fp32")
    _assert_same(_probs(auto, texts), np.concatenate([_probs(auto, [t]) for t in texts]))
    scorer = Scorer.load(tiny_bundle, device="cpu", precision="int8")
    batched = _probs(scorer, texts)
    alone = np.concatenate([_probs(scorer, [t]) for t in texts])
    _assert_same(batched, alone)
    # per-token scales leave only float rounding (the stock per-tensor int8 moves ~1e-4 even
    # on this random tiny model, and 0.3 on a real one)
    assert np.abs(batched - alone).max() <= 1e-6
    small = Scorer.load(tiny_bundle, device="cpu", precision="int8", max_tokens=64, threads=1)
    _assert_same(batched, _probs(small, texts))
    order = np.random.default_rng(0).permutation(len(texts))
    _assert_same(batched[order], _probs(scorer, [texts[i] for i in order]))


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_int8_static_is_row_invariant_on_either_engine(tiny_bundle, engine, monkeypatch):
    """Fixed activation scales: a row scores the same alone, in any batch, at any token budget
    and thread count, whether OpenVINO or (without it) ONNX Runtime runs the QDQ graph."""
    from sentiscore.infer import openvino
    from sentiscore.infer.scorer import Scorer

    if engine == "openvino":
        pytest.importorskip("openvino")
    else:
        monkeypatch.setattr(openvino, "openvino_available", lambda: False)
    meta = json.loads(open(f"{tiny_bundle}/sentiscore.json").read())
    static = meta["variants"]["int8-static"]
    assert static["activation_quant"] == "static" and static["row_invariant"] is True
    assert static["status"] == "ok" and static["quantized_layers"] > 0
    texts = _texts()
    scorer = Scorer.load(tiny_bundle, device="cpu", precision="int8-static")
    assert type(scorer.runner).__module__.endswith(
        "openvino" if engine == "openvino" else "session"
    )
    batched = _probs(scorer, texts)
    _assert_same(batched, np.concatenate([_probs(scorer, [t]) for t in texts]))
    small = Scorer.load(
        tiny_bundle, device="cpu", precision="int8-static", max_tokens=64, threads=1
    )
    _assert_same(batched, _probs(small, texts))
    fp32 = _probs(Scorer.load(tiny_bundle, device="cpu", precision="fp32"), texts)
    assert np.abs(batched - fp32).max() <= 0.05  # quantised, yet the same model


def test_int8_static_scores_the_same_on_both_engines(tiny_bundle, monkeypatch):
    pytest.importorskip("openvino")
    from sentiscore.infer import openvino
    from sentiscore.infer.scorer import Scorer

    texts = _texts()
    on_openvino = _probs(Scorer.load(tiny_bundle, device="cpu", precision="int8-static"), texts)
    monkeypatch.setattr(openvino, "openvino_available", lambda: False)
    on_ort = _probs(Scorer.load(tiny_bundle, device="cpu", precision="int8-static"), texts)
    _assert_same(on_openvino, on_ort)


@pytest.mark.parametrize("precision", ["fp32", "int8", "int8-static", "int8-static-bf16"])
def test_files_give_the_same_scores_whatever_the_chunking(tiny_bundle, tmp_path, precision):
    from sentiscore.infer.files import score_files

    if precision == "int8-static-bf16":
        pytest.importorskip("openvino")
        from sentiscore.infer.openvino import bf16_capabilities

        ok, why = bf16_capabilities()
        if not ok:
            pytest.skip(f"int8-static-bf16 needs native bf16: {why}")

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(63)), "text": _texts()}), src)
    outs = []
    for k, (chunk, tokens) in enumerate([(20_000, None), (7, 64), (1, 16)]):
        out = tmp_path / f"out{k}.parquet"
        score_files(
            [str(src)],
            model=tiny_bundle,
            output=str(out),
            precision=precision,
            chunk_rows=chunk,
            max_tokens=tokens,
            device="cpu",
        )
        t = pq.read_table(out)
        outs.append(
            np.stack(
                [t.column("prob_negative").to_numpy(), t.column("prob_positive").to_numpy()], 1
            )
        )
    for o in outs[1:]:
        _assert_same(outs[0], o)


def test_auto_skips_the_batch_dependent_per_tensor_int8(per_tensor_bundle, caplog):
    from sentiscore.infer.scorer import Scorer

    meta = json.loads(open(f"{per_tensor_bundle}/sentiscore.json").read())
    assert meta["variants"]["int8"]["activation_quant"] == "per-tensor"
    assert meta["variants"]["int8"]["row_invariant"] is False
    assert Scorer.load(per_tensor_bundle, device="cpu").precision in ("bf16", "fp32")
    with caplog.at_level(logging.WARNING, logger="sentiscore"):
        assert Scorer.load(per_tensor_bundle, device="cpu", precision="int8").precision == "int8"
    assert "depend on the rows it is batched with" in caplog.text


def test_a_bundle_with_only_per_tensor_int8_is_refused_by_auto(per_tensor_bundle, tmp_path):
    from sentiscore.infer.bundle import load_bundle
    from sentiscore.infer.precision import choose

    only = tmp_path / "only-int8"
    shutil.copytree(per_tensor_bundle, only)
    meta = json.loads((only / "sentiscore.json").read_text())
    del meta["variants"]["fp32"], meta["files"]["model.onnx"]
    (only / "model.onnx").unlink()
    (only / "sentiscore.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="row-invariant.*sentiscore upgrade|row-invariant"):
        choose(load_bundle(str(only)), "cpu", "auto")


def test_upgrade_turns_per_tensor_int8_into_per_row(per_tensor_bundle, tmp_path):
    from click.testing import CliRunner

    from sentiscore.cli import cli
    from sentiscore.infer.scorer import Scorer

    out = tmp_path / "up"
    r = CliRunner().invoke(
        cli, ["upgrade", per_tensor_bundle, "-o", str(out), "--version", "2.0.0"]
    )
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "sentiscore.json").read_text())
    assert meta["version"] == "2.0.0"
    assert meta["variants"]["int8"]["activation_quant"] == "per-row"
    scorer = Scorer.load(str(out), device="cpu", precision="int8")  # checksums verified
    assert out.joinpath("model.int8.onnx").exists()
    texts = _texts()
    _assert_same(_probs(scorer, texts), np.concatenate([_probs(scorer, [t]) for t in texts]))
    again = CliRunner().invoke(cli, ["upgrade", str(out), "-o", str(tmp_path / "again")])
    assert again.exit_code == 1 and "already quantises per row" in again.output
    assert not (tmp_path / "again").exists()


def test_per_row_rewrite_refuses_unknown_readers(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from sentiscore.errors import ExportError
    from sentiscore.export.rowquant import per_row_int8

    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"], name="dq"),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="deq"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    src = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    with pytest.raises(ExportError, match="DequantizeLinear"):
        per_row_int8(str(src), str(tmp_path / "o.onnx"))
