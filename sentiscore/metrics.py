"""Classification metrics shared by trainer, export and ``evaluate``.

Accuracy, precision/recall/F1 (macro and per class), ROC AUC (binary, or macro one-vs-rest)
and the confusion matrix come from scikit-learn (the ``evaluate`` extra; train installs it
too), imported when first needed so that the scorer imports without it. What scikit-learn
lacks is here in numpy: softmax, expected calibration error, reliability bins, NLL and
temperature fitting, which the scorer and export use without scikit-learn. Plotting lives
in ``plots``.
"""

from __future__ import annotations

import numpy as np

from sentiscore.errors import require


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sklearn_metrics():
    """``sklearn.metrics``, or MissingDependencyError naming the extra to install."""
    return require("sklearn.metrics", "evaluate", "Accuracy, F1 and ROC metrics")


def roc_auc(y_bin: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve; None when only one class is present."""
    y_bin = np.asarray(y_bin)
    if np.unique(y_bin).size < 2:
        return None
    return float(sklearn_metrics().roc_auc_score(y_bin, score))


def roc_curve(y_bin: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fpr, tpr, _ = sklearn_metrics().roc_curve(y_bin, score, drop_intermediate=False)
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


def ece_floor(probs: np.ndarray, draws: int = 200, seed: int = 0) -> float:
    """The ECE a perfectly calibrated model with these confidences would show on this many
    rows (labels drawn from its own probabilities, mean of ``draws``): the measurement's noise
    floor. On a few hundred rows it is 0.02-0.05, so a smaller ECE there is not measurable."""
    probs = np.asarray(probs, dtype=np.float64)
    if not len(probs):
        return 0.0
    rng = np.random.default_rng(seed)
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    total = 0.0
    for _ in range(draws):
        y = (rng.random((len(probs), 1)) > cum).sum(axis=1)
        total += ece(probs, y)
    return float(total / draws)


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
    m = sklearn_metrics()
    y = np.asarray(y, dtype=np.int64)
    ids = list(range(len(labels)))
    pred = probs.argmax(axis=1)
    p, r, f, support = m.precision_recall_fscore_support(
        y, pred, labels=ids, average=None, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(labels)
    }
    aucs = [roc_auc((y == i).astype(np.int64), probs[:, i]) for i in ids]
    if len(labels) == 2:
        auc = aucs[1]
    else:
        aucs = [a for a in aucs if a is not None]
        auc = float(np.mean(aucs)) if aucs else None
    return {
        "n": int(len(y)),
        "accuracy": float(m.accuracy_score(y, pred)) if len(y) else None,
        "precision_macro": float(np.mean(p)),
        "recall_macro": float(np.mean(r)),
        "f1_macro": float(np.mean(f)),
        "roc_auc": auc,
        "ece": ece(probs, y),
        "ece_floor": ece_floor(probs),
        "per_class": per_class,
        "confusion_matrix": m.confusion_matrix(y, pred, labels=ids).tolist(),
        "labels": list(labels),
    }
