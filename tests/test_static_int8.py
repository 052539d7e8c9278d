"""int8-static at export: NNCF's calibrated QDQ graph, and accuracy control when it fails its
gate (the most sensitive layers kept in fp32, listed in the manifest, until it passes)."""

import collections
import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.testing import sample_reviews


@pytest.fixture(scope="module")
def touchy_model(tiny_model_dir, tmp_path_factory):
    """The tiny BERT with its decision boundary moved to the middle of its outputs and a steep
    head, so that int8's rounding flips labels; and held-out rows labeled as fp32 scores them."""
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("touchy")
    model_dir = out / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    texts = [t for t, _ in sample_reviews(200, seed=5)]
    enc = tok(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        model.classifier.weight *= 100
        model.classifier.bias.zero_()
        logits = model(**enc).logits
        middle = (logits[:, 1] - logits[:, 0]).median()
        model.classifier.bias += torch.tensor([middle / 2, -middle / 2])
        labels = model(**enc).logits.argmax(1).numpy()
    model.save_pretrained(model_dir)
    names = [model.config.id2label[int(i)] for i in labels]
    pq.write_table(pa.table({"text": texts, "label": names}), out / "held_out.parquet")
    assert 0.3 < labels.mean() < 0.7  # both labels, many rows near the boundary
    return str(model_dir), str(out / "held_out.parquet")


def test_accuracy_control_keeps_sensitive_layers_in_fp32_and_recovers_accuracy(
    touchy_model, tmp_path
):
    pytest.importorskip("nncf")
    onnx = pytest.importorskip("onnx")
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model
    from sentiscore.export.static_int8 import weighted_layers
    from sentiscore.infer.scorer import Scorer

    model_dir, held_out = touchy_model
    out = tmp_path / "bundle"
    cfg = ExportConfig(
        precision=("fp32", "int8-static"),
        max_length=32,
        validate_with=held_out,
        label_column="label",
        calibration_rows=100,
        force=True,  # fp32 itself may sit on the boundary for a row: only int8-static matters
    )
    report = export_model(model_dir, str(out), cfg)
    static = json.loads((out / "sentiscore.json").read_text())["variants"]["int8-static"]
    before = static["failed_before_accuracy_control"][0]
    assert before.startswith("accuracy drop") and static["accuracy_control"] is True
    assert static["calibration_rows"] == 100  # of the 200 held-out rows
    assert static["kept_layers"], "no layer was kept in fp32"
    graph = onnx.load(str(out / static["file"]))
    _, in_float = weighted_layers(graph)
    assert set(static["kept_layers"]) <= set(in_float)  # the manifest names what stayed fp32
    (result,) = [v for v in report.variants if v.precision == "int8-static"]
    drop = (report.reference_accuracy - result.accuracy) * 100
    # the layers kept in fp32 recover accuracy (they did not when SmoothQuant's scaling was
    # left behind); on this deliberately touchy model reaching the 0.5 pt gate is not certain
    assert drop < float(before.split()[2])
    assert (result.status == "ok") == (drop <= cfg.max_drop)
    ops = collections.Counter(n.op_type for n in graph.graph.node)
    assert static["quantized_layers"] == 0 or ops["QuantizeLinear"] > 0
    if result.status == "ok":  # the bundle scores with it as the gate measured
        table = pq.read_table(held_out)
        scorer = Scorer.load(str(out), device="cpu", precision="int8-static")
        probs = scorer.probabilities(table.column("text").to_pylist())
        gold = np.array([name == "positive" for name in table.column("label").to_pylist()])
        assert abs((probs.argmax(1) == gold).mean() - result.accuracy) <= 0.01


def test_calibration_rows_are_checked():
    from sentiscore.errors import ConfigError
    from sentiscore.export.config import ExportConfig

    with pytest.raises(ConfigError, match="--calibration-rows >= 8"):
        ExportConfig(calibration_rows=0)


def _activation_scales(path: str) -> dict:
    """Each QuantizeLinear's scale in a QDQ graph (the fixed activation ranges)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    return {n.name: float(inits[n.input[1]]) for n in graph.node if n.op_type == "QuantizeLinear"}


def test_calibration_data_sets_the_activation_ranges(tiny_model_dir, tmp_path):
    """--calibration-data: int8-static's ranges come from that file's texts, not the
    validation rows, and the manifest says so (by file name only)."""
    pytest.importorskip("nncf")
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    short = tmp_path / "short.parquet"
    pq.write_table(pa.table({"review": ["broke", "love it", "meh", "awful"] * 5}), short)
    scales = {}
    for name, data in (("own", None), ("short", str(short))):
        out = tmp_path / name
        cfg = ExportConfig(
            precision=("fp32", "int8-static"),
            max_length=32,
            calibration_data=data,
            text_column="review" if data else None,
            force=True,
        )
        export_model(tiny_model_dir, str(out), cfg)
        static = json.loads((out / "sentiscore.json").read_text())["variants"]["int8-static"]
        scales[name] = _activation_scales(str(out / static["file"]))
        if data:
            assert static["calibration_data"] == "short.parquet"
            assert static["calibration_rows"] == 20  # every row of the file, fewer than 300
        else:
            assert static["calibration_data"] == "validation rows"
    assert scales["own"].keys() == scales["short"].keys() and scales["own"]
    assert any(abs(scales["own"][k] - scales["short"][k]) > 1e-6 for k in scales["own"])


def test_calibration_data_needs_enough_texts(tiny_model_dir, tmp_path):
    from sentiscore.errors import ExportError
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.parity import load_calibration_texts

    few = tmp_path / "few.csv"
    few.write_text("text\nbroke\n\nlove it\n")
    with pytest.raises(ExportError, match="at least 8 non-empty texts") as err:
        load_calibration_texts(ExportConfig(calibration_data=str(few)))
    assert "2 in" in str(err.value)


@pytest.mark.parametrize(
    "option", [{"calibration_data": "titles.parquet"}, {"static_keep": ("*layer.0*",)}]
)
def test_int8_static_options_need_int8_static(option):
    """--calibration-data and --static-keep only act on int8-static: refused without it."""
    from sentiscore.errors import ConfigError
    from sentiscore.export.config import ExportConfig

    with pytest.raises(ConfigError, match="int8-static among --precision") as err:
        ExportConfig(precision="fp32,int8", **option)
    assert "--precision fp32,int8" in str(err.value)
    ExportConfig(precision="int8-static", **option)  # accepted with it


def test_static_keep_leaves_matching_layers_in_fp32(tiny_model_dir, tmp_path):
    """--static-keep: the matching MatMuls stay fp32 in the QDQ graph, the manifest lists
    them, and the rest is still quantised."""
    pytest.importorskip("nncf")
    import onnx

    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model
    from sentiscore.export.static_int8 import weighted_layers

    out = tmp_path / "keep"
    cfg = ExportConfig(
        precision=("fp32", "int8-static"),
        max_length=32,
        static_keep=("/bert/encoder/layer.0/*",),
        force=True,
    )
    export_model(tiny_model_dir, str(out), cfg)
    static = json.loads((out / "sentiscore.json").read_text())["variants"]["int8-static"]
    quantised, in_float = weighted_layers(onnx.load(str(out / static["file"])))
    layer0 = [n for n in in_float if n.startswith("/bert/encoder/layer.0/")]
    assert layer0 and set(layer0) <= set(static["kept_layers"])
    assert not [n for n in quantised if n.startswith("/bert/encoder/layer.0/")]
    assert [n for n in quantised if n.startswith("/bert/encoder/layer.1/")]
    assert static["quantized_layers"] == len(quantised)


def test_cli_static_keep_without_int8_static_is_one_line_error(tmp_path):
    from click.testing import CliRunner

    from sentiscore.cli import cli

    args = ["export", str(tmp_path / "model"), "-o", str(tmp_path / "out")]
    res = CliRunner().invoke(cli, [*args, "--precision", "fp32,int8", "--static-keep", "*"])
    assert (
        res.exit_code == 1 and "Traceback" not in res.output and len(res.output.splitlines()) == 1
    )
    assert "int8-static among --precision when --static-keep is given" in res.output
