"""Real-model and real-data checks (slow): the pretrained all-MiniLM-L6-v2 through export and
infer, and the shipped default model on SST-2 dev. Skipped with a reason when absent."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_real_minilm_export_parity(minilm, tmp_path):
    pytest.importorskip("optimum.exporters.onnx")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model
    from sentiscore.infer.scorer import Scorer

    model_dir = tmp_path / "minilm-cls"
    AutoModelForSequenceClassification.from_pretrained(minilm, num_labels=2).save_pretrained(
        model_dir
    )
    AutoTokenizer.from_pretrained(minilm).save_pretrained(model_dir)
    report = export_model(
        str(model_dir),
        str(tmp_path / "b"),
        ExportConfig(precision="fp32,int8", max_length=128, samples=60, force=True),
    )
    fp32 = report.variants[0]
    assert fp32.status == "ok" and fp32.max_abs_delta < 1e-4
    assert report.fused_ops["Attention"] == 6 and report.fused_ops["SkipLayerNormalization"] == 12
    s = Scorer.load(str(tmp_path / "b"), device="cpu", precision="fp32")
    ids = s.encoder.encode(["x " * 400])
    assert len(ids[0]) == 128  # the tokenizer.json's own 128-padding/truncation is not what applies
    assert np.isclose(sum(s.predict(["fine"])[0]["probs"].values()), 1, atol=1e-5)


def test_default_model_on_sst2_dev(shared_data, tmp_path):
    from sentiscore.infer.bundle import default_bundle_dir
    from sentiscore.infer.evaluate import EvaluateConfig, evaluate_bundle

    if not os.path.exists(os.path.join(default_bundle_dir(), "sentiscore.json")):
        pytest.skip("default bundle not built into this checkout")
    rep = evaluate_bundle(
        EvaluateConfig(
            bundle="default",
            data=[f"{shared_data}/sst2/dev.parquet"],
            output=str(tmp_path / "ev"),
            plots=False,
        )
    )
    assert rep["metrics"]["n"] == 872 and rep["metrics"]["accuracy"] > 0.895
    assert os.path.exists(tmp_path / "ev" / "metrics.json")


def test_default_model_scores_each_row_the_same_in_any_batch(shared_data):
    """SST-2 dev with the shipped bundle, each variant this CPU runs: one row at a time,
    length-bucketed batches, a small token budget with one thread, and reversed order give
    the same probabilities."""
    import pyarrow.parquet as pq

    from sentiscore.infer.scorer import Scorer

    texts = pq.read_table(f"{shared_data}/sst2/dev.parquet").column("text").to_pylist()
    from sentiscore.infer.bundle import load_bundle
    from sentiscore.infer.precision import runnable

    # the shipped variants, and int8-static-bf16 on a CPU with native bf16
    here = runnable(load_bundle("default"), "cpu")
    assert Scorer.load("default", device="cpu").precision in here  # measured
    for precision in here:
        scorer = Scorer.load("default", device="cpu", precision=precision)
        assert scorer.bundle.row_invariant(precision)
        batched = scorer.probabilities(texts)
        alone = np.concatenate([scorer.probabilities([t]) for t in texts])
        small = Scorer.load(
            "default", device="cpu", precision=precision, max_tokens=600, threads=1
        ).probabilities(texts)
        reverse = scorer.probabilities(texts[::-1])[::-1]
        for other in (alone, small, reverse):
            assert np.abs(batched - other).max() <= 1e-3, precision
            assert (batched.argmax(1) == other.argmax(1)).all(), precision
