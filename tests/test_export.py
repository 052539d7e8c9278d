"""Export on tiny models: parity, gates, fusion counts, encoders, calibration, clear errors."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.errors import ConfigError, ExportError
from sentiscore.testing import build_tiny_model, sample_reviews

pytest.importorskip("optimum.exporters.onnx")
from sentiscore.export.config import ExportConfig  # noqa: E402
from sentiscore.export.parity import onnx_logits, torch_logits  # noqa: E402
from sentiscore.export.run import export_model  # noqa: E402
from sentiscore.infer.scorer import Scorer  # noqa: E402
from sentiscore.infer.tokenize import TextEncoder  # noqa: E402


def test_fp32_logits_match_torch(exported_tiny_bundle, tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    enc = TextEncoder(f"{exported_tiny_bundle}/tokenizer.json", 32)
    ids = enc.encode([t for t, _ in sample_reviews(40)])
    ref = torch_logits(
        AutoModelForSequenceClassification.from_pretrained(tiny_model_dir), ids, enc.pad_id
    )
    got, _ = onnx_logits("fp32", f"{exported_tiny_bundle}/model.onnx", "cpu", ids, enc.pad_id)
    assert np.abs(got - ref).max() < 1e-4


def test_bundle_report_gates_and_fusions(exported_tiny_bundle):
    meta = json.loads(open(f"{exported_tiny_bundle}/sentiscore.json").read())
    report = json.loads(open(f"{exported_tiny_bundle}/export_report.json").read())
    statuses = {v["precision"]: v["status"] for v in report["variants"]}
    assert statuses == {"fp32": "ok", "int8": "ok", "int8-static": "ok"}  # export's defaults
    assert meta["variants"]["int8"]["per_channel"] is True and meta["max_length"] == 32
    # int8 takes the tanh GELU (one per layer); fp32 keeps the exact one
    onnx = pytest.importorskip("onnx")
    assert meta["variants"]["int8"]["gelu"] == "tanh"
    assert meta["variants"]["int8"]["gelu_replaced"] == 2
    ops = {
        name: [n.op_type for n in onnx.load(f"{exported_tiny_bundle}/{name}").graph.node]
        for name in ("model.onnx", "model.int8.onnx")
    }
    assert ops["model.onnx"].count("BiasGelu") == 2 and "FastGelu" not in ops["model.onnx"]
    assert (
        ops["model.int8.onnx"].count("FastGelu") == 2 and "BiasGelu" not in ops["model.int8.onnx"]
    )
    assert (
        report["fused_ops"].get("Attention", 0) == 2
        and report["fused_ops"].get("SkipLayerNormalization", 0) >= 2
    )
    # CPU variants: ORT's fused skip + layer norm written out (its CPU kernel is the slow one)
    assert meta["variants"]["fp32"]["skip_layernorm_split"] == 4
    for name in ("model.onnx", "model.int8.onnx"):
        assert "SkipLayerNormalization" not in ops[name]
        assert ops[name].count("LayerNormalization") == 4
    assert (
        set(meta["files"])
        == {"tokenizer.json", "model.onnx", "model.int8.onnx", "model.int8-static.onnx"}
        and meta["lowercase"] is True
    )


def test_roundtrip_through_infer_with_labels_and_calibration(tiny_model_dir, tmp_path):
    rows = sample_reviews(80)
    pq.write_table(
        pa.table({"text": [t for t, _ in rows], "label": [y for _, y in rows]}),
        tmp_path / "v.parquet",
    )
    cfg = ExportConfig(
        precision="fp32,int8,fp16",
        validate_with=str(tmp_path / "v.parquet"),
        label_column="label",
        calibrate=True,
        max_length=24,
        truncation="head+tail",
    )
    report = export_model(tiny_model_dir, str(tmp_path / "b"), cfg)
    assert report.reference_accuracy is not None and report.temperature > 0 and not report.failed
    assert "fp16" in report.table() and report.variants[2].ece_calibrated is not None
    onnx = pytest.importorskip("onnx")  # fp16 (CUDA) keeps the fused SkipLayerNormalization
    fp16_ops = [n.op_type for n in onnx.load(str(tmp_path / "b" / "model.fp16.onnx")).graph.node]
    assert fp16_ops.count("SkipLayerNormalization") == 4
    s = Scorer.load(str(tmp_path / "b"), device="cpu", precision="fp32")
    assert s.encoder.truncation == "head+tail" and s.temperature == pytest.approx(
        report.temperature
    )
    assert len(s.predict(["the film was great"])[0]["probs"]) == 2


@pytest.mark.parametrize("arch", ["distilbert", "roberta"])
def test_other_encoders(arch, tmp_path):
    model = build_tiny_model(str(tmp_path / arch), arch)
    report = export_model(
        model, str(tmp_path / "b"), ExportConfig(precision="fp32,int8", max_length=32, samples=40)
    )
    assert not report.failed and report.variants[0].max_abs_delta < 1e-4
    meta = json.loads((tmp_path / "b" / "sentiscore.json").read_text())
    assert meta["variants"]["fp32"]["cls_tail_nodes"] >= 6  # their [CLS] read-out is a Gather too
    s = Scorer.load(str(tmp_path / "b"), device="cpu")
    has_tti = "token_type_ids" in s.runner.input_names
    assert has_tti is False
    assert s.predict(["awful film"])[0]["label"] in ("negative", "positive")


def test_failing_gate_exits_and_force_keeps_marked(tiny_model_dir, tmp_path):
    from sentiscore.errors import ParityError

    strict = ExportConfig(precision="fp32,int8", max_length=32, samples=40, min_agreement_int8=1.01)
    with pytest.raises(ParityError, match="int8 failed.*--exclude-nodes"):
        export_model(tiny_model_dir, str(tmp_path / "a"), strict)
    assert not os.path.exists(tmp_path / "a" / "model.int8.onnx")
    forced = ExportConfig(
        precision="fp32,int8", max_length=32, samples=40, min_agreement_int8=1.01, force=True
    )
    export_model(tiny_model_dir, str(tmp_path / "b"), forced)
    meta = json.loads((tmp_path / "b" / "sentiscore.json").read_text())
    assert meta["variants"]["int8"]["status"] == "failed"
    assert Scorer.load(str(tmp_path / "b"), device="cpu").precision != "int8"  # auto skips failed


def test_one_fast_cpu_variant_that_passes_is_enough():
    from sentiscore.export.parity import VariantResult
    from sentiscore.export.report import ExportReport

    def report(**status):
        variants = [
            VariantResult(p, "f", 1.0, 0, 0, 1, None, 0.1, "cpu", s) for p, s in status.items()
        ]
        return ExportReport("b", "m", "v", 1, {}, variants)

    r = report(fp32="ok", int8="failed", **{"int8-static": "ok"})
    assert r.fatal == [] and r.left_out == ["int8"]  # the bundle goes on without int8
    r = report(fp32="ok", int8="failed", **{"int8-static": "failed"})
    assert r.fatal == ["int8", "int8-static"] and r.left_out == []
    assert report(fp32="failed", int8="ok").fatal == ["fp32"]  # the source graph must hold
    assert report(fp32="ok", fp16="failed", int8="ok").fatal == ["fp16"]  # the GPU's only one


def test_clear_errors(tiny_model_dir, tmp_path):
    import shutil

    no_tok = tmp_path / "no_tok"
    shutil.copytree(tiny_model_dir, no_tok)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (no_tok / name).exists():
            os.remove(no_tok / name)
    with pytest.raises(ExportError, match="tokenizer"):
        export_model(str(no_tok), str(tmp_path / "o1"))
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(
        json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})
    )
    with pytest.raises(ExportError, match="model_type 'gpt2'"):
        export_model(str(gpt), str(tmp_path / "o2"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="writable output directory"):
        export_model(tiny_model_dir, str(blocker / "sub"))
    with pytest.raises(ConfigError, match="--calibrate"):
        ExportConfig(calibrate=True)
    with pytest.raises(ConfigError, match="--int8-gelu tanh or erf"):
        ExportConfig(int8_gelu="fast")
