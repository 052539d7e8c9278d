"""PNG plots for training runs and evaluations: loss curves, accuracy per epoch, confusion
matrix, ROC curve, reliability diagram. Uses matplotlib's Agg backend, imported lazily; the
numbers come from ``metrics``.
"""

from __future__ import annotations

import os

import numpy as np

from sentiscore.errors import require
from sentiscore.metrics import reliability, roc_auc, roc_curve


def _plt():
    mpl = require("matplotlib", "train", "Plots")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


# Up to this many logged points, each one gets a marker (a single point has no line to show).
MARKED_POINTS = 30


def loss_figure(history: list[dict]):
    """The train/eval loss figure of a Trainer log history."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    train = [(h["epoch"], h["loss"]) for h in history if "loss" in h and "epoch" in h]
    evals = [(h["epoch"], h["eval_loss"]) for h in history if "eval_loss" in h]
    if train:
        marker = "." if len(train) <= MARKED_POINTS else None
        ax.plot(*zip(*train), marker=marker, label="train loss")
    if evals:
        ax.plot(*zip(*evals), marker="o", label="eval loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if train or evals:
        ax.legend()
    ax.set_title("Loss")
    return fig


def loss_curves(history: list[dict], path: str) -> str:
    return _save(loss_figure(history), path)


def accuracy_curve(history: list[dict], path: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    pts = [(h["epoch"], h["eval_accuracy"]) for h in history if "eval_accuracy" in h]
    if pts:
        ax.plot(*zip(*pts), marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("eval accuracy")
    ax.set_title("Accuracy per epoch")
    return _save(fig, path)


def confusion_matrix(cm: list[list[int]], labels: list[str], path: str) -> str:
    plt = _plt()
    m = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 3, 1.2 * len(labels) + 2.5))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(
                j,
                i,
                str(m[i, j]),
                ha="center",
                va="center",
                color="white" if m[i, j] > m.max() / 2 else "black",
            )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    return _save(fig, path)


def roc(y: np.ndarray, probs: np.ndarray, labels: list[str], path: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    classes = [1] if probs.shape[1] == 2 else range(probs.shape[1])
    for k in classes:
        y_bin = (y == k).astype(np.int64)
        fpr, tpr = roc_curve(y_bin, probs[:, k])
        auc = roc_auc(y_bin, probs[:, k])
        ax.plot(fpr, tpr, label=labels[k] + (f" (AUC {auc:.3f})" if auc is not None else ""))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC")
    ax.legend()
    return _save(fig, path)


def reliability_diagram(probs: np.ndarray, y: np.ndarray, path: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    bins = reliability(probs, y)
    if bins:
        ax.bar(
            [(b["lo"] + b["hi"]) / 2 for b in bins],
            [b["accuracy"] for b in bins],
            width=0.1,
            alpha=0.7,
            label="accuracy",
            edgecolor="black",
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability diagram")
    ax.legend()
    return _save(fig, path)


def evaluation_plots(y: np.ndarray, probs: np.ndarray, report: dict, out_dir: str) -> list[str]:
    """Confusion matrix, ROC and reliability diagram into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    labels = report["labels"]
    return [
        confusion_matrix(
            report["confusion_matrix"], labels, os.path.join(out_dir, "confusion_matrix.png")
        ),
        roc(y, probs, labels, os.path.join(out_dir, "roc.png")),
        reliability_diagram(probs, y, os.path.join(out_dir, "reliability.png")),
    ]
