"""Scorer: score_batch semantics, bad rows, clashes, tokenisation policy, batching, devices."""

import numpy as np
import pyarrow as pa
import pytest

from sentiscore.errors import BadRowError, BundleError, ConfigError, DeviceError, InputDataError
from sentiscore.infer.batching import iter_micro_batches, plan_batches
from sentiscore.infer.bundle import load_bundle
from sentiscore.infer.precision import choose, runnable
from sentiscore.infer.scorer import Scorer
from sentiscore.infer.session import cuda_available
from sentiscore.infer.tokenize import TextEncoder

pytestmark = pytest.mark.light  # no torch needed: the torch-free test tier


@pytest.fixture(scope="module")
def scorer(tiny_bundle):
    return Scorer.load(tiny_bundle, device="cpu")


def test_score_batch_keeps_every_row_in_order(scorer, reviews_rows):
    texts = [t for t, _ in reviews_rows]
    batch = pa.record_batch({"id": list(range(len(texts))), "text": texts})
    out = scorer.score_batch(batch)
    assert out.column("id").to_pylist() == list(range(len(texts)))
    assert out.schema.names == [
        "id",
        "text",
        "label",
        "label_id",
        "score",
        "prob_negative",
        "prob_positive",
        "error",
    ]
    p = np.stack(
        [out.column("prob_negative").to_numpy(), out.column("prob_positive").to_numpy()], 1
    )
    assert np.allclose(p.sum(1), 1, atol=1e-5)
    # fp32 rows scored one at a time give the same probabilities: order restored correctly.
    # (Dynamic int8 quantises activations per batch, so only fp32 is batch-independent.)
    fp32 = Scorer.load(scorer.bundle.path, device="cpu", precision="fp32")
    batched = fp32.score_batch(batch).column("prob_positive").to_numpy()
    single = [fp32.predict([t])[0]["probs"]["positive"] for t in texts[:10]]
    assert np.allclose(single, batched[:10], atol=1e-6)


def test_bad_rows_get_error_column_never_dropped(scorer):
    batch = pa.record_batch(
        {"text": pa.array(["good film", None, "", "   ", "bad film"], pa.string())}
    )
    out = scorer.score_batch(batch).to_pylist()
    assert len(out) == 5
    assert [r["error"] for r in out] == [
        None,
        "text is null",
        "text is empty",
        "text is empty",
        None,
    ]
    assert (
        out[1]["label"] is None
        and out[1]["prob_positive"] is None
        and out[0]["label"] in ("negative", "positive")
    )
    with pytest.raises(InputDataError, match="'text' of strings. Found: type int64"):
        scorer.score_batch(pa.record_batch({"text": pa.array([1, 2])}))
    nulls = scorer.score_batch(pa.record_batch({"text": pa.array([None, None])})).to_pylist()
    assert [r["error"] for r in nulls] == ["text is null"] * 2
    coded = pa.array(["good film", None, "good film"]).dictionary_encode()
    dict_rows = scorer.score_batch(pa.record_batch({"text": coded})).to_pylist()
    assert [r["error"] for r in dict_rows] == [None, "text is null", None]
    assert dict_rows[0]["score"] == dict_rows[2]["score"]
    raw = scorer.score_batch(
        pa.record_batch({"text": pa.array([b"ok text", b"\xff\xfe"], pa.binary())})
    ).to_pylist()
    assert raw[0]["error"] is None and raw[1]["error"] == "text is not valid UTF-8"


def test_strict_stops_at_first_bad_row(scorer):
    with pytest.raises(
        BadRowError, match=r"row 12 \(counting from 1, header excluded\): text is null"
    ):
        scorer.score_batch(
            pa.record_batch({"text": pa.array(["fine", None], pa.string())}),
            strict=True,
            row_offset=10,
        )


def test_missing_column_and_clash(scorer):
    batch = pa.record_batch({"review": ["x"], "label": [1]})
    with pytest.raises(InputDataError, match=r"\['review', 'label'\].*--text-column"):
        scorer.score_batch(batch)
    with pytest.raises(ConfigError, match=r"\['label'\] clash.*--prefix"):
        scorer.score_batch(batch, text_column="review", prefix="")
    out = scorer.score_batch(batch, text_column="review", prefix="pred_")
    assert out.column("label").to_pylist() == [1] and "pred_label" in out.schema.names
    auto = scorer.score_batch(batch, text_column="review")  # no prefix given: pred_ on a clash
    assert auto.schema.names == out.schema.names
    assert (
        scorer.score_batch(batch, text_column="review", keep_columns="none").schema.names[0]
        == "label"
    )


def test_tokenizer_own_padding_and_truncation_are_ignored(tiny_bundle):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(f"{tiny_bundle}/tokenizer.json")
    tok.enable_padding(length=128)
    tok.enable_truncation(max_length=5)
    enc = TextEncoder(tok, max_length=16, truncation="head")
    ids = enc.encode(["great", "the movie was great " * 20])
    assert (
        len(ids[0]) == 3 and len(ids[1]) == 16
    )  # [CLS] great [SEP]; cut at max_length, not 5 or 128


def test_head_tail_keeps_the_end(tiny_bundle):
    head = TextEncoder(f"{tiny_bundle}/tokenizer.json", 12, "head")
    ht = TextEncoder(f"{tiny_bundle}/tokenizer.json", 12, "head+tail", head_fraction=0.5)
    text = "the film was boring " * 10 + "but the ending was wonderful"
    bare = head.tok.encode(text, add_special_tokens=False).ids
    a, b = head.encode([text])[0], ht.encode([text])[0]
    assert len(a) == len(b) == 12
    assert list(b[1:6]) == bare[:5] and list(b[6:11]) == bare[-5:] and list(a[1:11]) == bare[:10]
    assert a[0] == b[0] and a[-1] == b[-1]  # special tokens kept at both ends


def test_micro_batches_cover_rows_under_budget():
    rng = np.random.default_rng(0)
    ids = [np.arange(n) for n in rng.integers(3, 300, 500)]
    seen = []
    for mb in iter_micro_batches(ids, max_tokens=2048):
        assert mb.input_ids.size <= 2048 or len(mb.rows) == 1
        assert (mb.attention_mask.sum(1) == [len(ids[r]) for r in mb.rows]).all()
        seen += mb.rows.tolist()
    assert sorted(seen) == list(range(500))
    eff = sum(len(x) for x in ids) / sum(b.input_ids.size for b in iter_micro_batches(ids, 2048))
    assert eff > 0.8
    assert [len(b) for b in plan_batches(np.array([5, 5, 5]), 100)] == [3]


def test_same_width_batches_pad_each_row_by_its_own_length(tiny_bundle, monkeypatch):
    """For an engine whose results move with padding (OpenVINO), every row is padded to the
    next multiple of PAD_STEP of its own length (capped at max_length) and each micro-batch
    holds rows of one width, within the same token budget: a row is computed the same way
    whatever it is batched with."""
    from sentiscore.infer.batching import PAD_STEP, row_width

    lengths = np.array([5, 7, 5, 9, 7, 7, 5, 9, 16, 17])
    widths = row_width(lengths, cap=17)
    assert widths.tolist() == [8, 8, 8, 12, 8, 8, 8, 12, 16, 17]
    batches = plan_batches(lengths, 32, same_length=True, widths=widths)
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert all(len(set(widths[b].tolist())) == 1 for b in batches)
    assert all(len(b) * widths[b[0]] <= 32 for b in batches)
    ids = [np.arange(k) + 5 for k in lengths]
    for mb in iter_micro_batches(ids, 32, same_length=True, max_width=17):
        for r, row, mask in zip(mb.rows, mb.input_ids, mb.attention_mask):
            assert row.size == widths[r] and mask.sum() == lengths[r]
            assert (row[: lengths[r]] == ids[r]).all() and not mask[lengths[r] :].any()
    alone = [next(iter_micro_batches([x], 32, same_length=True, max_width=17)) for x in ids]
    assert [mb.input_ids.shape[1] for mb in alone] == widths.tolist()  # same width alone
    pytest.importorskip("openvino")
    scorer = Scorer.load(tiny_bundle, device="cpu", precision="int8-static")
    assert scorer.runner.pads_exactly is False  # OpenVINO: the scorer batches by width
    scorer.probabilities(["a good film", "a truly wonderful and moving film", "bad"])
    assert scorer.stats.computed_tokens % PAD_STEP == 0
    assert scorer.stats.computed_tokens >= scorer.stats.real_tokens


def test_device_and_precision_errors(tiny_bundle):
    b = load_bundle(tiny_bundle)
    with pytest.raises(BundleError, match="int8 is ~20x slower"):
        choose(b, "cuda", "int8")
    with pytest.raises(BundleError, match="'fp16' variant"):
        choose(b, "cuda", "fp16")
    assert choose(b, "cpu", "auto")[0] in runnable(b)  # measured: the fastest here


def test_a_distributed_run_settles_auto_once(tiny_bundle, auto_speeds):
    """Workers get the driver's concrete choice, the one a local Scorer makes."""
    from sentiscore.infer.scorer import resolve_precision

    measured = auto_speeds({"int8": 1.0, "fp32": 3.0})
    assert resolve_precision(tiny_bundle, "cpu", "auto") == "fp32" and "int8" in measured
    assert Scorer.load(tiny_bundle, device="cpu", threads=1).precision == "fp32"
    assert resolve_precision(tiny_bundle, "cpu", "int8") == "int8"
    assert resolve_precision(tiny_bundle, "cuda", "auto") == "auto"  # decided on the GPU worker
    if not cuda_available():
        with pytest.raises(DeviceError, match="CUDAExecutionProvider.*providers"):
            Scorer.load(tiny_bundle, device="cuda")
        assert Scorer.load(tiny_bundle, device="auto").device == "cpu"


def test_bundle_checksum_and_format_checks(tiny_bundle, tmp_path):
    import json
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle, copy)
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes() + b"x")
    with pytest.raises(BundleError, match="model.onnx' to match the sha256"):
        load_bundle(str(copy))
    meta = json.loads((copy / "sentiscore.json").read_text())
    meta["format"] = "other"
    (copy / "sentiscore.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="format 'sentiscore-bundle'"):
        load_bundle(str(copy), verify=False)
    with pytest.raises(BundleError, match="not a directory"):
        load_bundle(str(tmp_path / "none"))


def test_concurrent_streams_match_one_stream(tiny_bundle, reviews_rows):
    texts = [t for t, _ in reviews_rows] * 3
    two = Scorer.load(tiny_bundle, device="cpu", precision="int8", threads=2, max_tokens=64)
    one = Scorer.load(tiny_bundle, device="cpu", precision="int8", threads=1, max_tokens=64)
    assert (two.runner.streams, one.runner.streams) == (2, 1)
    # Small budget: many micro-batches in flight; each row must come back exactly once, and
    # batch composition (which int8 results depend on) must not depend on the streams.
    assert np.array_equal(two.probabilities(texts), one.probabilities(texts))
