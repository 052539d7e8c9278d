"""Mean pooling: chosen by --pooling (auto keeps what a sentiscore model recorded), kept in
the saved model, loadable with trust_remote_code, and exported to ONNX with the same read-out."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.errors import ConfigError
from sentiscore.testing import build_tiny_model, sample_reviews

pytest.importorskip("transformers")
from sentiscore.modeling.pooling import (  # noqa: E402
    checkpoint_pooling,
    load_classifier,
    resolve_pooling,
)
from sentiscore.pipeline import train_and_export  # noqa: E402
from sentiscore.trainer.config import TrainConfig  # noqa: E402


def _st_checkpoint(path) -> str:
    """A tiny sentence-transformers-style checkpoint: BERT + 1_Pooling/config.json (mean)."""
    model = build_tiny_model(str(path), "bert")
    os.makedirs(os.path.join(model, "1_Pooling"))
    with open(os.path.join(model, "1_Pooling", "config.json"), "w") as f:
        json.dump({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, f)
    return model


def test_auto_pooling_keeps_the_recorded_read_out(tiny_model_dir, tmp_path):
    import transformers

    st = _st_checkpoint(tmp_path / "st")
    conf = transformers.AutoConfig.from_pretrained(st)
    assert checkpoint_pooling(st) == "mean" and checkpoint_pooling(tiny_model_dir) is None
    assert resolve_pooling("auto", st, conf) == "cls"  # measured no better: not automatic
    assert resolve_pooling("mean", st, conf) == "mean"
    conf.sentiscore_pooling = "mean"  # what a mean-pooled sentiscore model records
    assert resolve_pooling("auto", tiny_model_dir, conf) == "mean"
    assert resolve_pooling("cls", st, conf) == "cls"
    conf.model_type = "distilbert"
    with pytest.raises(ConfigError, match="pooling cls"):
        resolve_pooling("mean", st, conf)


def test_mean_pooled_train_export_score(tmp_path):
    import torch
    import transformers

    st = _st_checkpoint(tmp_path / "st")
    rows = sample_reviews(96)
    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": [y for _, y in rows]}), data)
    res = train_and_export(
        TrainConfig(
            model=st,
            data=[str(data)],
            output=str(tmp_path / "run"),
            epochs=2,
            batch_size=8,
            learning_rate=3e-3,
            max_length=32,
            pooling="mean",
            export=True,
        )
    )
    model_dir = res.model_dir
    saved = json.loads(open(os.path.join(model_dir, "config.json")).read())
    assert saved["sentiscore_pooling"] == "mean"
    assert os.path.exists(os.path.join(model_dir, "modeling_sentiscore.py"))
    ours = load_classifier(model_dir).eval()
    assert type(ours).__name__ == "MeanPooledBertForSequenceClassification"
    remote = transformers.AutoModelForSequenceClassification.from_pretrained(
        model_dir, trust_remote_code=True
    ).eval()
    plain = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    batch = tok(
        ["a great film", "dull and far too long for what it is"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        ref = ours(**batch).logits.numpy()
        assert np.allclose(remote(**batch).logits.numpy(), ref, atol=1e-5)
        assert not np.allclose(plain(**batch).logits.numpy(), ref, atol=1e-3)  # [CLS] differs

    from sentiscore.infer.scorer import Scorer

    bundle = res.bundle
    meta = json.loads(open(os.path.join(bundle, "sentiscore.json")).read())
    assert meta["pooling"] == "mean" and meta["fused_ops"].get("Attention", 0) >= 1
    assert "Read-out: mean" in open(os.path.join(res.output, "README.md")).read()
    assert meta["variants"]["fp32"]["parity"]["max_abs_delta"] < 1e-3
    assert meta["variants"]["fp32"]["cls_tail_nodes"] == 0  # no [CLS] Gather: left whole
    texts = ["a great film", "dull and far too long for what it is"]
    got = Scorer.load(bundle, device="cpu", precision="fp32").predict(texts)
    want = torch.softmax(torch.from_numpy(ref) / meta["temperature"], -1).numpy()
    assert np.allclose([g["score"] for g in got], want.max(1), atol=1e-4)


def test_mean_pooled_loss_is_scaled_for_gradient_accumulation(tmp_path):
    """The HF Trainer divides the loss by the accumulation steps only for models that do not
    take loss kwargs; the mean-pooled forward has **kwargs, so it must say it does not."""
    import transformers

    from sentiscore.trainer.hf_trainer import SentiscoreTrainer

    model = load_classifier(_st_checkpoint(tmp_path / "st"), "mean")
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "o"),
        report_to="none",
        use_cpu=True,
        gradient_accumulation_steps=4,
    )
    assert SentiscoreTrainer(model=model, args=args).model_accepts_loss_kwargs is False
    assert SentiscoreTrainer(model=model, args=args, rdrop=1.0).model_accepts_loss_kwargs is False
