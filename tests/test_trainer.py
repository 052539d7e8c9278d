"""Trainer on the tiny fixture model: runs, outputs, labels, errors, resume, search."""

import dataclasses
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.errors import ConfigError, TrainingError
from sentiscore.testing import sample_reviews

pytest.importorskip("transformers")
from sentiscore.trainer.config import TrainConfig  # noqa: E402
from sentiscore.trainer.run import train  # noqa: E402

FAST = {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "max_length": 32, "logging_steps": 2}


def _data(path, n=48, num_labels=2, labels=None):
    rows = sample_reviews(n, num_labels=num_labels)
    lab = [labels[y] for _, y in rows] if labels else [y for _, y in rows]
    pq.write_table(pa.table({"review": [t for t, _ in rows], "sentiment": lab}), path)
    return str(path)


def test_one_epoch_outputs_and_loss_goes_down(tiny_model_dir, tmp_path):
    data = _data(tmp_path / "d.parquet", 160)
    cfg = TrainConfig(
        model=tiny_model_dir,
        data=[data],
        output=str(tmp_path / "run"),
        **{**FAST, "epochs": 4, "learning_rate": 3e-3, "warmup_ratio": 0.0},
    )
    res = train(cfg)
    run = tmp_path / "run"
    for name in (
        "model/model.safetensors",
        "model/tokenizer.json",
        "model/sentiscore_train.json",
        "metrics.json",
        "predictions.parquet",
        "train_config.json",
        "README.md",
    ):
        assert (run / name).exists(), name
    assert not (run / "checkpoints").exists()  # removed once the run finished
    for png in ("loss", "accuracy", "confusion_matrix", "roc", "reliability"):
        assert (run / "plots" / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    losses = [h["loss"] for h in res.metrics["log_history"] if "loss" in h]
    assert losses[-1] < losses[0]
    m = json.loads((run / "metrics.json").read_text())
    assert len(m["per_epoch"]) == 4 and {
        "accuracy",
        "f1_macro",
        "roc_auc",
        "ece",
        "confusion_matrix",
        "per_class",
    } <= set(m["final"])
    assert m["final"]["accuracy"] > 0.8  # the synthetic sentiment words are easy to learn
    preds = pq.read_table(run / "predictions.parquet")
    agree = [
        a == b for a, b in zip(preds.column("pred").to_pylist(), preds.column("label").to_pylist())
    ]
    assert (
        preds.num_rows == m["eval_rows"]
        and abs(sum(agree) / len(agree) - m["final"]["accuracy"]) < 1e-9
    )
    assert "## Intended use" in (run / "README.md").read_text()
    pytest.importorskip("optimum.exporters.onnx")
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    # exporting the run gates on its held-out rows, with their labels: the accuracy gates
    report = export_model(str(run), str(tmp_path / "bundle"), ExportConfig(precision="fp32"))
    assert report.validation.endswith("predictions.parquet") and report.rows == preds.num_rows
    assert report.reference_accuracy == pytest.approx(m["final"]["accuracy"], abs=0.02)


def test_string_labels_and_multiclass(tiny_model_dir, tmp_path):
    data = _data(tmp_path / "d.parquet", 60, num_labels=3, labels=["bad", "meh", "good"])
    res = train(
        TrainConfig(model=tiny_model_dir, data=[data], output=str(tmp_path / "run"), **FAST)
    )
    cfg = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert cfg["id2label"] == {"0": "bad", "1": "good", "2": "meh"}
    assert len(res.metrics["final"]["confusion_matrix"]) == 3


def test_clear_errors(tiny_model_dir, tmp_path):
    data = _data(tmp_path / "d.parquet")
    with pytest.raises(
        TrainingError, match=r"text column named 'body'.*columns \['review', 'sentiment'\]"
    ):
        train(
            TrainConfig(
                model=tiny_model_dir, data=[data], output=str(tmp_path / "a"), text_column="body"
            )
        )
    pq.write_table(
        pa.table({"text": ["good", "great", "fine"], "label": [1, 1, 1]}), tmp_path / "one.parquet"
    )
    with pytest.raises(TrainingError, match="two classes"):
        train(
            TrainConfig(
                model=tiny_model_dir,
                data=[str(tmp_path / "one.parquet")],
                output=str(tmp_path / "b"),
            )
        )
    pq.write_table(
        pa.table({"text": pa.array([None, ""], pa.string()), "label": [0, 1]}),
        tmp_path / "empty.parquet",
    )
    with pytest.raises(TrainingError, match="0 usable rows"):
        train(
            TrainConfig(
                model=tiny_model_dir,
                data=[str(tmp_path / "empty.parquet")],
                output=str(tmp_path / "c"),
            )
        )
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    with pytest.raises(TrainingError, match="Hub dataset 'no_such_dataset_xyz'"):
        train(
            TrainConfig(
                model=tiny_model_dir, data=["no_such_dataset_xyz"], output=str(tmp_path / "d")
            )
        )


def test_resume_continues_from_checkpoint(tiny_model_dir, tmp_path):
    data = _data(tmp_path / "d.parquet")
    out = str(tmp_path / "run")
    train(TrainConfig(model=tiny_model_dir, data=[data], output=out, keep_checkpoints=True, **FAST))
    res = train(
        TrainConfig(
            model=tiny_model_dir, data=[data], output=out, resume=True, **{**FAST, "epochs": 2}
        )
    )
    epochs = [h["epoch"] for h in res.metrics["log_history"] if "eval_loss" in h]
    assert epochs == [1.0, 2.0]  # epoch 1 came from the checkpoint's state, epoch 2 was trained now


def test_search_runs_two_trials(tiny_model_dir, tmp_path):
    from sentiscore.pipeline import train_and_export

    data = _data(tmp_path / "d.parquet")
    res = train_and_export(
        TrainConfig(
            model=tiny_model_dir,
            data=[data],
            output=str(tmp_path / "run"),
            search_trials=2,
            search_space={"learning_rate": [1e-3, 5e-4], "epochs": [1]},
            batch_size=8,
            max_length=32,
        )
    )
    assert len(res.trials) == 2 and res.best_trial in (1, 2)
    assert (tmp_path / "run" / "trials.md").read_text().count("\n") == 4
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()


def test_layer_decay_groups_scale_by_depth(tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, TrainingArguments

    from sentiscore.trainer.optim import build_optimizer, layer_decay_groups

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    n = model.config.num_hidden_layers
    groups = layer_decay_groups(model, 1e-3, 0.5, 0.01)
    lr_of = {id(p): (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    params = dict(model.named_parameters())
    assert len(lr_of) == len(params) == sum(len(g["params"]) for g in groups)
    assert lr_of[id(params["classifier.weight"])] == (1e-3, 0.01)
    assert groups[0]["lr"] == 1e-3  # the head's group comes first (the Trainer logs it)
    emb = params["bert.embeddings.word_embeddings.weight"]
    assert lr_of[id(emb)][0] == pytest.approx(1e-3 * 0.5 ** (n + 1))
    top = params[f"bert.encoder.layer.{n - 1}.output.dense.weight"]
    assert lr_of[id(top)] == (pytest.approx(1e-3 * 0.5), 0.01)
    norm = params["bert.encoder.layer.0.output.LayerNorm.weight"]
    assert lr_of[id(norm)] == (pytest.approx(1e-3 * 0.5**n), 0.0)
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, report_to="none")
    opt = build_optimizer(model, args, 0.5)  # the Trainer's own optimizer class and kwargs
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in groups]
    assert bool(opt.defaults.get("fused")) == ("fused" in str(args.optim).lower())


def test_train_with_layer_decay(tiny_model_dir, tmp_path):
    data = _data(tmp_path / "d.parquet")
    res = train(
        TrainConfig(
            model=tiny_model_dir,
            data=[data],
            output=str(tmp_path / "run"),
            layer_decay=0.8,
            **{**FAST, "warmup_ratio": 0.0},
        )
    )
    rates = [h["learning_rate"] for h in res.metrics["log_history"] if "learning_rate" in h]
    assert rates and max(rates) <= FAST["learning_rate"]  # head rate = --lr, linear decay
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["layer_decay"] == 0.8
    with pytest.raises(ConfigError, match="layer-decay"):
        TrainConfig(model="m", data=["d"], output="o", layer_decay=0.0)


def test_rdrop_loss_adds_the_kl_between_two_dropout_passes(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments

    from sentiscore.trainer.hf_trainer import SentiscoreTrainer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = dict(tok(["a great film", "dull and far too long"], padding=True, return_tensors="pt"))
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)

    def loss(rdrop: float, train: bool = True) -> float:
        trainer = SentiscoreTrainer(model=model, args=args, rdrop=rdrop)
        model.train(train)
        torch.manual_seed(0)  # the same two dropout masks for every call
        return float(trainer.compute_loss(model, {**batch, "labels": torch.tensor([1, 0])}))

    # same masks, so the cross-entropy parts are equal and the difference is 0.5 * KL > 0
    assert loss(1.0) > loss(1e-9) + 1e-6
    assert loss(2.0) - loss(1e-9) == pytest.approx(2 * (loss(1.0) - loss(1e-9)), rel=0.05)
    # evaluation runs once, with no KL term: plain cross-entropy
    plain = SentiscoreTrainer(model=model, args=args)
    model.eval()
    ref = float(plain.compute_loss(model, {**batch, "labels": torch.tensor([1, 0])}))
    assert loss(1.0, train=False) == pytest.approx(ref, rel=1e-5)


def test_train_with_rdrop(tiny_model_dir, tmp_path):
    data = _data(tmp_path / "d.parquet")
    res = train(
        TrainConfig(
            model=tiny_model_dir, data=[data], output=str(tmp_path / "run"), rdrop=1.0, **FAST
        )
    )
    losses = [h["loss"] for h in res.metrics["log_history"] if "loss" in h]
    assert losses and all(x == x and x > 0 for x in losses)  # finite, positive
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["rdrop"] == 1.0
    assert "R-Drop 1.0" in (tmp_path / "run" / "README.md").read_text()
    with pytest.raises(ConfigError, match="rdrop"):
        TrainConfig(model="m", data=["d"], output="o", rdrop=-1.0)


def test_evals_per_epoch_scores_between_epochs_and_at_the_end(tiny_model_dir, tmp_path):
    data = _data(tmp_path / "d.parquet")  # 43 training rows: 6 steps of 8 per epoch
    res = train(
        TrainConfig(
            model=tiny_model_dir,
            data=[data],
            output=str(tmp_path / "run"),
            evals_per_epoch=3,
            **{**FAST, "epochs": 1.5},
        )
    )
    evals = [h for h in res.metrics["log_history"] if "eval_accuracy" in h]
    # every 2 steps (steps 2, 4, 6, 8) and the last step (9), which is not a multiple of 2
    assert [h["step"] for h in evals] == [2, 4, 6, 8, 9]
    assert [e["epoch"] for e in res.metrics["per_epoch"]][-1] == pytest.approx(1.5, abs=0.01)
    assert "scored 3 times per epoch" in (tmp_path / "run" / "README.md").read_text()
    with pytest.raises(ConfigError, match="evals-per-epoch"):
        TrainConfig(model="m", data=["d"], output="o", evals_per_epoch=0)


def test_metric_direction_is_explicit():
    from sentiscore.trainer.run import training_arguments

    for metric, higher in (
        ("accuracy", True),
        ("f1_macro", True),
        ("ece", False),
        ("eval_loss", False),
    ):
        cfg = TrainConfig(model="m", data=["d.csv"], output="o", metric_for_best=metric)
        assert cfg.greater_is_better is higher
        assert training_arguments(cfg, 100).greater_is_better is higher
    with pytest.raises(ConfigError, match="metric-for-best"):
        TrainConfig(model="m", data=["d.csv"], output="o", metric_for_best="auc")


def test_unknown_training_arguments_are_an_error_not_dropped():
    from sentiscore.trainer.run import known_arguments

    assert known_arguments({"seed": 1}, {"seed": None}, "x") == {"seed": 1}
    with pytest.raises(TrainingError, match="does not take \\['lr_typo'\\]"):
        known_arguments({"seed": 1, "lr_typo": 2}, {"seed": None}, "4.99")


@pytest.mark.parametrize("metric,best", [("ece", 2), ("loss", 3), ("accuracy", 1)])
def test_search_keeps_the_best_trial_in_the_metric_s_direction(tmp_path, monkeypatch, metric, best):
    from sentiscore.trainer import search as search_mod
    from sentiscore.trainer.report import TrainResult

    figures = {  # trial -> (accuracy, ece, best eval loss)
        1: (0.9, 0.10, 0.50),
        2: (0.8, 0.01, 0.60),
        3: (0.7, 0.20, 0.30),
    }
    calls = []

    def fake_train(cfg):
        n = len(calls) + 1
        calls.append(cfg)
        acc, ece, loss = figures[n]
        os.makedirs(os.path.join(cfg.output, "model"))
        os.makedirs(os.path.join(cfg.output, "plots"))
        for name in ("metrics.json", "predictions.parquet", "train_config.json", "README.md"):
            open(os.path.join(cfg.output, name), "w").write(str(n))
        metrics = {
            "final": {"accuracy": acc, "f1_macro": acc, "ece": ece},
            "per_epoch": [{"eval_loss": loss + 0.1}, {"eval_loss": loss}],
            "runtime_s": 1.0,
            "eval_rows": 10,
        }
        return TrainResult(cfg.output, os.path.join(cfg.output, "model"), metrics)

    monkeypatch.setattr(search_mod, "train", fake_train)
    cfg = TrainConfig(
        model="m",
        data=["d.csv"],
        output=str(tmp_path / "run"),
        search_trials=3,
        search_space={"learning_rate": [1e-3, 2e-3, 3e-3]},
        metric_for_best=metric,
    )
    res = search_mod.search(cfg)
    assert isinstance(res, TrainResult) and len(res.trials) == 3
    assert res.best_trial == best
    assert (tmp_path / "run" / "metrics.json").read_text() == str(best)
    assert res.summary().startswith(f"best of 3 trials: trial {best}; ")


def test_bf16_on_a_cpu_needs_native_bf16(tiny_model_dir, tmp_path, monkeypatch):
    """--precision bf16 without CUDA: autocast on CPUs with AVX-512 BF16 or AMX, else a clear
    error naming what was found; auto picks it there and fp32 elsewhere; training runs with it
    where the CPU has it."""
    import torch

    from sentiscore.infer import cpu
    from sentiscore.trainer import run as run_mod

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = TrainConfig(
        model=tiny_model_dir, data=[_data(tmp_path / "d.parquet")], output=str(tmp_path / "r"),
        precision="bf16", **FAST,
    )  # fmt: skip
    real = cpu.cpu_info()
    monkeypatch.setattr(cpu, "cpu_info", lambda: {**real, "features": ["avx2", "avx512_bf16"]})
    assert run_mod._precision_flags(cfg) == {"bf16": True, "fp16": False, "use_cpu": True}
    auto = dataclasses.replace(cfg, precision="auto")
    assert run_mod._precision_flags(auto) == {"bf16": True, "fp16": False, "use_cpu": True}
    monkeypatch.setattr(cpu, "cpu_info", lambda: {**real, "features": ["avx2"]})
    with pytest.raises(TrainingError, match="native bf16.*avx2"):
        run_mod._precision_flags(cfg)
    assert run_mod._precision_flags(auto) == {"bf16": False, "fp16": False}
    if {"avx512_bf16", "amx_bf16"} & set(real["features"]):
        monkeypatch.setattr(cpu, "cpu_info", lambda: real)
        res = train(cfg)
        losses = [h["loss"] for h in res.metrics["log_history"] if "loss" in h]
        assert losses and all(0.0 < x < 10.0 for x in losses)
        assert (tmp_path / "r" / "model" / "model.safetensors").exists()
        assert json.load(open(tmp_path / "r" / "train_config.json"))["precision"] == "bf16"
        assert res.metrics["precision"] == "bf16"
