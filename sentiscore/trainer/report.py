"""Everything a finished training run leaves on disk: model/, metrics.json, plots/,
predictions.parquet, train_config.json and README.md (the model card).

It reads the HF Trainer's state and the eval logits; it does not train (``run``) or export.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sentiscore import __version__
from sentiscore.metrics import classification_report, softmax
from sentiscore.modeling import PREDICTIONS, TRAIN_META
from sentiscore.trainer.config import TrainConfig


def per_epoch(history: list[dict]) -> list[dict]:
    """Train loss (mean of the logged steps), eval loss and eval accuracy per epoch."""
    rows = []
    evals = [h for h in history if "eval_loss" in h]
    prev = 0.0
    for h in evals:
        ep = h["epoch"]
        losses = [
            x["loss"] for x in history if "loss" in x and prev < x.get("epoch", 0) <= ep + 1e-9
        ]
        rows.append(
            {
                "epoch": round(ep, 3),
                "train_loss": float(np.mean(losses)) if losses else None,
                "eval_loss": h["eval_loss"],
                "eval_accuracy": h.get("eval_accuracy"),
            }
        )
        prev = ep
    return rows


def _predictions(data, probs: np.ndarray, path: str) -> None:
    names = data.label_names
    pred = probs.argmax(axis=1)
    cols = {
        "text": pa.array(data.eval.texts, pa.string()),
        "label": pa.array([names[i] for i in data.eval.labels], pa.string()),
        "label_id": pa.array(data.eval.labels, pa.int32()),
        "pred": pa.array([names[i] for i in pred], pa.string()),
        "pred_id": pa.array(pred.astype(np.int32)),
    }
    for j, n in enumerate(names):
        cols[f"prob_{n}"] = pa.array(probs[:, j].astype(np.float32))
    pq.write_table(pa.table(cols), path, compression="zstd")


def write_run(
    cfg: TrainConfig,
    data,
    trainer,
    tok,
    max_length: int,
    logits: np.ndarray,
    result,
    runtime: float,
) -> dict:
    from sentiscore import plots

    out = cfg.output
    model_dir = os.path.join(out, "model")
    trainer.save_model(model_dir)
    tok.save_pretrained(model_dir)
    y = np.asarray(data.eval.labels)
    probs = softmax(logits)
    final = classification_report(y, probs, data.label_names)
    history = trainer.state.log_history
    metrics = {
        "per_epoch": per_epoch(history),
        "final": final,
        "runtime_s": round(runtime, 2),
        "train_samples_per_s": (result.metrics or {}).get("train_samples_per_second"),
        "train_rows": len(data.train.texts),
        "eval_rows": len(data.eval.texts),
        "max_length": max_length,
        "precision": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32",
        "pooling": getattr(trainer.model.config, "sentiscore_pooling", "cls"),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "log_history": history,
    }
    meta = {
        "max_length": max_length,
        "truncation": cfg.truncation,
        "head_fraction": cfg.head_fraction,
        "labels": data.label_names,
        "eval_metrics": {k: final[k] for k in ("accuracy", "f1_macro", "roc_auc", "ece")},
        "source_model": cfg.model,
        "sentiscore_version": __version__,
    }
    with open(os.path.join(model_dir, TRAIN_META), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    with open(os.path.join(out, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, default=float)
    save_config(cfg, os.path.join(out, "train_config.json"), max_length_used=max_length)
    _predictions(data, probs, os.path.join(out, PREDICTIONS))
    plot_dir = os.path.join(out, "plots")
    os.makedirs(plot_dir, exist_ok=True)
    plots.loss_curves(history, os.path.join(plot_dir, "loss.png"))
    plots.accuracy_curve(history, os.path.join(plot_dir, "accuracy.png"))
    plots.evaluation_plots(y, probs, final, plot_dir)
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(model_card(cfg, data, metrics))
    return TrainResult(output=out, model_dir=model_dir, metrics=metrics)


def save_config(cfg: TrainConfig, path: str, **extra) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**cfg.as_dict(), **extra}, f, indent=2)


@dataclass
class TrainResult:
    """What a training run (or the best trial of a search) produced.

    output: the run directory. model_dir: the trained model in it. metrics: the content of
    metrics.json (``final`` holds the evaluation split's figures). trials / best_trial: a
    search's table and winner. bundle: the exported bundle, when one was made."""

    output: str
    model_dir: str
    metrics: dict
    trials: list = field(default_factory=list)
    best_trial: int | None = None
    bundle: str | None = None

    @property
    def final(self) -> dict:
        return self.metrics["final"]

    def score(self, metric: str) -> float:
        """The kept model's ``metric`` (accuracy, f1_macro, ece: on the evaluation split;
        loss: the best evaluation loss, the kept checkpoint's when it was chosen by loss)."""
        name = metric.removeprefix("eval_")
        if name == "loss":
            losses = [
                e["eval_loss"] for e in self.metrics["per_epoch"] if e.get("eval_loss") is not None
            ]
            return float(min(losses))
        return float(self.final[name])

    def summary(self) -> str:
        f = self.final
        head = (
            f"best of {len(self.trials)} trials: trial {self.best_trial}; " if self.trials else ""
        )
        tail = f"; bundle in {self.bundle}" if self.bundle else ""
        return (
            f"{head}accuracy {f['accuracy']:.4f}, F1 {f['f1_macro']:.4f}, ECE {f['ece']:.4f} on "
            f"{self.metrics['eval_rows']} eval rows; {self.metrics['runtime_s']:.0f}s; "
            f"model in {self.model_dir}{tail}"
        )


# What a training set's name says about its texts (matched in its name or path).
KNOWN_DATA = {
    "imdb": "film reviews (IMDB)",
    "sst": "film review sentences (SST-2)",
    "amazon": "product reviews (Amazon)",
    "yelp": "business reviews (Yelp)",
    "multi_domain": "product reviews (books, DVD, electronics, kitchen)",
    "customer_reviews": "product review sentences (Customer Reviews)",
    "semeval": "restaurant and laptop review sentences (SemEval-2014)",
}
# Recall this many points below another class's is flagged on the card.
RECALL_GAP = 0.10


def intended_use(data: list[str]) -> str:
    """The card's first sentence on use: the kinds of text the model was trained on."""
    kinds = [k for key, k in KNOWN_DATA.items() if any(key in str(d).lower() for d in data)]
    if kinds:
        return f"Sentiment of English text like its training data: {'; '.join(kinds)}."
    names = ", ".join(os.path.basename(str(d).rstrip("/")) for d in data)
    return f"Sentiment of English text like its training data ({names})."


def recall_note(per_class: dict) -> str:
    """A warning line when one class's recall is far below another's, else ''."""
    recalls = {name: c["recall"] for name, c in per_class.items()}
    if len(recalls) < 2:
        return ""
    low, high = min(recalls, key=recalls.get), max(recalls, key=recalls.get)
    gap = recalls[high] - recalls[low]
    if gap <= RECALL_GAP:
        return ""
    return (
        f"\n**Recall gap:** '{low}' is found {recalls[low]:.1%} of the time, {gap * 100:.1f} "
        f"points below '{high}' ({recalls[high]:.1%}): the model misses '{low}' more often. "
        "More such examples or `--class-weights` may help.\n"
    )


def model_card(cfg: TrainConfig, data, metrics: dict) -> str:
    f = metrics["final"]
    rows = "\n".join(
        f"| {n} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |"
        for n, c in f["per_class"].items()
    )
    auc = f"{f['roc_auc']:.4f}" if f["roc_auc"] is not None else "n/a"
    epochs = "\n".join(
        f"| {e['epoch']} | {e['train_loss'] if e['train_loss'] is None else round(e['train_loss'], 4)} | {e['eval_loss']:.4f} | {e['eval_accuracy']:.4f} |"
        for e in metrics["per_epoch"]
    )
    return f"""# Sentiment classifier fine-tuned with sentiscore {__version__}

## Data
- Training data: {", ".join(cfg.data)} ({metrics["train_rows"]} rows after cleaning{", subset" if cfg.max_train_samples else ""})
- Evaluation: {", ".join(cfg.eval_data) if cfg.eval_data else (cfg.eval_split or f"{cfg.validation_fraction:.0%} stratified split of train by {cfg.holdout} (seed {cfg.seed})")} ({metrics["eval_rows"]} rows)
- Labels: {", ".join(f"{i} = {n}" for i, n in enumerate(data.label_names))}

## Training
- Base model: `{cfg.model}`
- lr {cfg.learning_rate}, batch {cfg.batch_size} x accumulation {cfg.grad_accum}, {cfg.epochs} epochs, weight decay {cfg.weight_decay},
  warmup {cfg.warmup_ratio}, {cfg.scheduler} schedule, label smoothing {cfg.label_smoothing}, layer-wise lr decay {cfg.layer_decay}, R-Drop {cfg.rdrop}, seed {cfg.seed}
- max_length {metrics["max_length"]} with `{cfg.truncation}` truncation; dynamic padding, length-grouped batches
- Validation scored {"once" if cfg.evals_per_epoch == 1 else f"{cfg.evals_per_epoch} times"} per epoch; the checkpoint with the best validation {cfg.metric_for_best} is the one kept
- Read-out: {"mean of the token vectors (load with `sentiscore.modeling.pooling.load_classifier(dir)`, which runs no code from the directory)" if metrics.get("pooling") == "mean" else "the [CLS] token"}
- Runtime {metrics["runtime_s"]} s on {platform.machine()} ({metrics["train_samples_per_s"] or 0:.1f} samples/s), {metrics.get("precision", "fp32")} steps (weights kept in fp32)

| epoch | train loss | eval loss | eval accuracy |
|---|---|---|---|
{epochs}

## Metrics (evaluation split, best checkpoint)
accuracy **{f["accuracy"]:.4f}**, macro F1 {f["f1_macro"]:.4f}, ROC AUC {auc}, ECE {f["ece"]:.4f}

| class | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

Plots: `plots/loss.png`, `plots/accuracy.png`, `plots/confusion_matrix.png`, `plots/roc.png`, `plots/reliability.png`.

{recall_note(f["per_class"])}
## Intended use and limits
{intended_use(cfg.data)} It is not suited to sarcasm-heavy or non-English text, nor to
decisions about people. Accuracy above is measured on the evaluation data only; check it on
your own data (`sentiscore evaluate`, `--group-column` per domain) before relying on it.

## Bias, privacy and transparency
The model inherits biases of its base model and of the review data (e.g. dialect, names,
topics associated with sentiment). Reviews may contain personal data: do not log raw texts
you are not allowed to keep. This card, `metrics.json`, `train_config.json` and
`predictions.parquet` record exactly how the model was made and how it performs.
"""
