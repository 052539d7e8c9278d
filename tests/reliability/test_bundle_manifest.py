"""A bundle is untrusted input: every bad manifest is one `Error:` line (exit 1) before any
row is scored, never wrong scores, a traceback or a read outside the bundle."""

import json
import math
import os
import shutil

import pytest
from click.testing import CliRunner

from sentiscore.cli import cli

pytestmark = pytest.mark.light


def _bundle(tiny_bundle, tmp_path, edit=None, name="b"):
    out = tmp_path / name
    shutil.copytree(tiny_bundle, out)
    meta = json.loads((out / "sentiscore.json").read_text())
    if edit:
        edit(meta)
    (out / "sentiscore.json").write_text(json.dumps(meta))
    return out


def _predict(bundle, *extra):
    return CliRunner().invoke(cli, ["predict", "-m", str(bundle), "Great film", *extra])


def _refused(r, *words):
    assert r.exit_code == 1, r.output
    assert r.output.startswith("Error:") and "Traceback" not in r.output, r.output
    for w in words:
        assert w in r.output, (w, r.output)


@pytest.mark.parametrize("t", [math.nan, -1.5, 0, "1", math.inf, True])
def test_temperature_must_be_finite_and_positive(tiny_bundle, tmp_path, t):
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.update(temperature=t))
    _refused(_predict(b), "temperature")


@pytest.mark.parametrize(
    "labels,word",
    [
        ({"0": "pos", "1": "pos"}, "unique"),
        ({"0": "neg"}, "n >= 2"),
        ({"0": "neg", "2": "pos"}, "'0'..'n-1'"),
        ({"0": "neg", "1": ""}, "non-empty"),
        (["neg", "pos"], "labels"),
    ],
)
def test_labels_are_checked(tiny_bundle, tmp_path, labels, word):
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.update(labels=labels))
    _refused(_predict(b), word)


def test_label_count_must_match_the_model(tiny_bundle, tmp_path):
    three = {"0": "negative", "1": "neutral", "2": "positive"}
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.update(labels=three))
    _refused(_predict(b), "One model output per label", "(1, 2)")


def test_max_length_must_fit_the_model(tiny_bundle, tmp_path):
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.update(max_length=4096))
    _refused(_predict(b), "max_length (4096 tokens)")
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.update(max_length="32"), "c")
    _refused(_predict(b), "max_length to be an integer")


@pytest.mark.parametrize("name", ["/dev/zero", "../outside.onnx", "sub/../../x", "~/.ssh/id"])
def test_file_paths_stay_inside_the_bundle(tiny_bundle, tmp_path, name):
    def edit(m):
        m["files"][name] = "0" * 64

    _refused(_predict(_bundle(tiny_bundle, tmp_path, edit)), "inside the bundle")

    def variant(m):
        m["variants"]["fp32"]["file"] = name

    _refused(_predict(_bundle(tiny_bundle, tmp_path, variant, "v")), "inside the bundle")


def test_a_link_out_of_the_bundle_is_refused(tiny_bundle, tmp_path):
    b = _bundle(tiny_bundle, tmp_path)
    (tmp_path / "elsewhere.onnx").write_bytes((b / "model.onnx").read_bytes())
    os.symlink(tmp_path / "elsewhere.onnx", b / "link.onnx")
    meta = json.loads((b / "sentiscore.json").read_text())
    meta["variants"]["fp32"]["file"] = "link.onnx"
    (b / "sentiscore.json").write_text(json.dumps(meta))
    _refused(_predict(b), "stay inside the bundle")


def test_every_file_is_listed_and_verified_unless_no_verify(tiny_bundle, tmp_path):
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.pop("files"))
    _refused(_predict(b), "not listed", "--no-verify")
    ok = _predict(b, "--no-verify")
    assert ok.exit_code == 0, ok.output
    swapped = _bundle(tiny_bundle, tmp_path, name="s")
    tok = json.loads((swapped / "tokenizer.json").read_text())
    tok["model"]["vocab"]["zzz"] = len(tok["model"]["vocab"])
    (swapped / "tokenizer.json").write_text(json.dumps(tok))
    _refused(_predict(swapped), "tokenizer.json", "sha256")


def test_source_model_is_a_name_not_a_local_path(tiny_bundle, tmp_path):
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.update(source_model="/home/me/ckpt/model"))
    _refused(_predict(b), "source_model")


def test_shipped_bundles_pass_the_checks(tiny_bundle):
    from sentiscore.infer.bundle import load_bundle

    for path in ("default", tiny_bundle):
        meta = load_bundle(path).meta
        assert not os.path.isabs(meta.get("source_model", ""))


def test_non_finite_logits_are_a_row_error_never_a_label(tiny_bundle, tmp_path):
    """A model whose output is NaN (here: its classifier bias) gives every row an error and
    no label, score or probabilities; the run says so under --max-error-rate."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import numpy_helper

    b = _bundle(tiny_bundle, tmp_path, lambda m: m.pop("files"))
    model = onnx.load(str(b / "model.onnx"))
    bias = next(i for i in model.graph.initializer if i.name == "classifier.bias")
    bias.CopyFrom(numpy_helper.from_array(np.array([np.nan, 0.0], np.float32), bias.name))
    onnx.save(model, str(b / "model.onnx"))
    src = tmp_path / "in.csv"
    src.write_text("text\nGreat film\nawful\n")
    args = ["score", str(src), "-m", str(b), "--precision", "fp32", "--no-verify", "--silent"]
    r = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [r["error"] for r in rows] == ["model output is not finite (NaN or infinite logits)"] * 2
    assert all(r["label"] is None and r["score"] is None for r in rows)
    strict = CliRunner().invoke(
        cli, [*args, "-o", str(tmp_path / "s.jsonl"), "--max-error-rate", "0"]
    )
    assert strict.exit_code == 1 and "--max-error-rate" in strict.output


@pytest.mark.parametrize("precision", ["fp32", "int8", "int8-static", "bf16"])
def test_tokenizer_ids_beyond_the_models_vocabulary_are_refused(tiny_bundle, tmp_path, precision):
    """ONNX Runtime fails on such an id and OpenVINO silently reads zeros: both are refused
    when the bundle loads, naming the highest id and the table's size where known."""
    b = _bundle(tiny_bundle, tmp_path, lambda m: m.pop("files"))
    tok = json.loads((b / "tokenizer.json").read_text())
    tok["model"]["vocab"]["zzzword"] = 5000
    (b / "tokenizer.json").write_text(json.dumps(tok))
    from sentiscore.infer.openvino import bf16_available

    if precision == "bf16" and not bf16_available():
        pytest.skip("this CPU offers no bf16")
    _refused(_predict(b, "--no-verify", "--precision", precision), "ids up to 5000", "vocabulary")


def _with_external_data(tiny_bundle, tmp_path, location):
    """The tiny bundle with its fp32 weights in an external data file at ``location``, the
    manifest listing every file it names inside the bundle, with its sha256."""
    onnx = pytest.importorskip("onnx")
    from sentiscore.infer.manifest import used_files
    from sentiscore.io.writers import sha256_file

    b = _bundle(tiny_bundle, tmp_path)
    model = onnx.load(str(b / "model.onnx"))
    for init in model.graph.initializer:
        if init.name == "classifier.bias" or init.dims and len(init.dims) == 2:
            onnx.external_data_helper.set_external_data(init, location)
    onnx.save_model(model, str(b / "model.onnx"))  # the tensors go where their location says
    meta = json.loads((b / "sentiscore.json").read_text())
    meta["files"] = {n: sha256_file(str(b / n)) for n in used_files(meta, str(b))}
    (b / "sentiscore.json").write_text(json.dumps(meta))
    return b


def test_onnx_external_data_is_listed_and_verified(tiny_bundle, tmp_path):
    b = _with_external_data(tiny_bundle, tmp_path, "weights.data")
    ok = _predict(b, "--precision", "fp32")
    assert ok.exit_code == 0, ok.output
    assert "weights.data" in json.loads((b / "sentiscore.json").read_text())["files"]
    data = bytearray((b / "weights.data").read_bytes())
    data[100] ^= 0xFF  # tampered weights
    (b / "weights.data").write_bytes(bytes(data))
    _refused(_predict(b, "--precision", "fp32"), "weights.data", "sha256")


def test_onnx_external_data_outside_the_bundle_is_refused(tiny_bundle, tmp_path):
    b = _with_external_data(tiny_bundle, tmp_path, "weights.data")
    raw = (b / "model.onnx").read_bytes()  # onnx refuses to write '..': patch the bytes
    (b / "model.onnx").write_bytes(raw.replace(b"weights.data", b"../outs.data"))
    os.replace(b / "weights.data", tmp_path / "outs.data")  # a readable file out there
    for extra in ([], ["--no-verify"]):
        _refused(_predict(b, "--precision", "fp32", *extra), "../outs.data", "inside the bundle")


def test_a_deeply_nested_manifest_is_one_line(tiny_bundle, tmp_path):
    b = _bundle(tiny_bundle, tmp_path)
    (b / "sentiscore.json").write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _refused(_predict(b), "nested too deeply")
