"""Classification metrics in plain numpy, shared by trainer, export and ``evaluate``.

Accuracy, precision/recall/F1 (macro and per class), ROC AUC (binary, or macro one-vs-rest),
confusion matrix, expected calibration error, NLL, and temperature fitting. No sklearn, so the
CPU scorer install can evaluate. Plotting lives in ``plots``.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def roc_auc(y_bin: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve via the rank statistic (ties averaged)."""
    pos, neg = int(y_bin.sum()), int(len(y_bin) - y_bin.sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return float((ranks[y_bin == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def roc_curve(y_bin: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="mergesort")
    y = y_bin[order]
    tps, fps = np.cumsum(y), np.cumsum(1 - y)
    tpr = np.concatenate([[0], tps / max(tps[-1], 1)])
    fpr = np.concatenate([[0], fps / max(fps[-1], 1)])
    return fpr, tpr


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence, equal-width bins."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    correct = (pred == y).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            out.append(
                {
                    "lo": float(lo),
                    "hi": float(hi),
                    "count": int(sel.sum()),
                    "confidence": float(conf[sel].mean()),
                    "accuracy": float((pred[sel] == y[sel]).mean()),
                }
            )
    return out


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising NLL (golden-section search on log T in [0.05, 20])."""
    a, b = np.log(0.05), np.log(20.0)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    for _ in range(60):
        if nll(logits, y, np.exp(c)) < nll(logits, y, np.exp(d)):
            b, d = d, c
            c = b - g * (b - a)
        else:
            a, c = c, d
            d = a + g * (b - a)
    return float(np.exp((a + b) / 2))


def classification_report(y: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict:
    """Every metric sentiscore reports, as a JSON-ready dict."""
    y = np.asarray(y, dtype=np.int64)
    k = len(labels)
    pred = probs.argmax(axis=1)
    cm = confusion(y, pred, k)
    per_class = {}
    for i, name in enumerate(labels):
        tp, fp, fn = cm[i, i], cm[:, i].sum() - cm[i, i], cm[i, :].sum() - cm[i, i]
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per_class[name] = {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(cm[i, :].sum()),
        }
    if k == 2:
        auc = roc_auc((y == 1).astype(np.int64), probs[:, 1])
    else:
        aucs = [roc_auc((y == i).astype(np.int64), probs[:, i]) for i in range(k)]
        aucs = [a for a in aucs if a is not None]
        auc = float(np.mean(aucs)) if aucs else None
    return {
        "n": int(len(y)),
        "accuracy": float((pred == y).mean()) if len(y) else None,
        "precision_macro": float(np.mean([c["precision"] for c in per_class.values()])),
        "recall_macro": float(np.mean([c["recall"] for c in per_class.values()])),
        "f1_macro": float(np.mean([c["f1"] for c in per_class.values()])),
        "roc_auc": auc,
        "ece": ece(probs, y),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "labels": list(labels),
    }
