"""Parity: compare each ONNX variant with the PyTorch model on the same token ids.

Reports max/mean |delta logit|, label agreement, accuracy (when labels are given), file size,
CPU ms/row and row invariance (max |delta probability| of rows scored alone vs in a batch),
and applies the gates. Tokenisation is sentiscore's own ``TextEncoder`` for
both sides, so parity measures the graph, not the tokenizer. Building variants is ``convert``'s.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from sentiscore.errors import ExportError
from sentiscore.export.config import ExportConfig
from sentiscore.infer.batching import iter_micro_batches
from sentiscore.infer.runners import make_runner
from sentiscore.infer.session import cuda_available

INVARIANCE_ROWS = 48  # rows re-scored one by one for the row-invariance check


@dataclass
class ValidationSet:
    texts: list[str]
    labels: np.ndarray | None  # ids, aligned with the model's id2label
    source: str


@dataclass
class VariantResult:
    precision: str
    file: str
    size_mb: float
    max_abs_delta: float
    mean_abs_delta: float
    agreement: float
    accuracy: float | None
    ms_per_row: float
    device: str
    status: str = "ok"
    reasons: list = field(default_factory=list)
    ece: float | None = None
    ece_calibrated: float | None = None
    invariance: float | None = None  # max |dp|, alone vs batched; None when not measured
    row_invariant: bool | None = None  # what the variant claims (gated when True)
    logits: np.ndarray | None = field(default=None, repr=False)  # for calibration reporting


def load_validation(cfg: ExportConfig, label2id: dict) -> ValidationSet:
    from sentiscore.samples import builtin_sample

    if not cfg.validate_with:
        return ValidationSet(builtin_sample(min(cfg.samples, 200)), None, "built-in sample")
    from sentiscore.infer.evaluate import LabelResolver
    from sentiscore.io.texts import read_texts

    sample = read_texts(
        [cfg.validate_with], cfg.samples, cfg.text_column, cfg.label_column, ExportError
    )
    texts, ids = sample.texts, None
    if cfg.label_column:
        labels = [name for _, name in sorted((i, n) for n, i in label2id.items())]
        gold = LabelResolver(labels)  # the label forms evaluate accepts
        ids = np.asarray([gold(v) for v in sample.labels], dtype=np.int64)
    return ValidationSet(texts, ids, cfg.validate_with)


def load_calibration_texts(cfg: ExportConfig) -> list[str] | None:
    """The first ``calibration_rows`` texts of ``calibration_data`` (None without one)."""
    if not cfg.calibration_data:
        return None
    from sentiscore.io.texts import read_texts

    sample = read_texts(
        [cfg.calibration_data], cfg.calibration_rows, cfg.text_column, None, ExportError
    )
    if len(sample.texts) < 8:
        raise ExportError(
            "--calibration-data with at least 8 non-empty texts",
            f"{len(sample.texts)} in {cfg.calibration_data}",
            "give a larger file, or drop --calibration-data to calibrate on the validation rows",
        )
    return sample.texts


def torch_logits(model, ids: list[np.ndarray], pad_id: int, max_tokens: int = 8192) -> np.ndarray:
    import torch

    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    names = {"input_ids", "attention_mask", "token_type_ids"} & set(
        model.forward.__code__.co_varnames
    )
    model.eval()
    with torch.no_grad():
        for mb in iter_micro_batches(ids, max_tokens, pad_id):
            feeds = {
                "input_ids": torch.from_numpy(mb.input_ids),
                "attention_mask": torch.from_numpy(mb.attention_mask),
            }
            if "token_type_ids" in names:
                feeds["token_type_ids"] = torch.zeros_like(feeds["input_ids"])
            out[mb.rows] = model(**feeds).logits.float().numpy()
    return out


def onnx_logits(
    precision: str,
    path: str,
    device: str,
    ids: list[np.ndarray],
    pad_id: int,
    max_tokens: int = 8192,
) -> tuple[np.ndarray, float]:
    """Logits and wall ms/row (after one warm-up batch), on the engine the scorer uses for
    ``precision`` (``runners.make_runner``)."""
    runner = make_runner(precision, path, device, None)
    out = np.zeros((len(ids), 0), dtype=np.float32)
    batches = list(iter_micro_batches(ids, max_tokens, pad_id))
    if batches:
        runner.run(batches[-1].input_ids, batches[-1].attention_mask)  # warm-up on the shortest
    start = time.perf_counter()
    for mb, logits in runner.run_all(batches):
        if out.shape[1] == 0:
            out = np.zeros((len(ids), logits.shape[1]), dtype=np.float32)
        out[mb.rows] = logits
    ms = (time.perf_counter() - start) * 1000 / max(len(ids), 1)
    return out, ms


def invariance(
    precision: str, path: str, device: str, ids: list[np.ndarray], pad_id: int, batched
) -> float:
    """Max |delta probability| between ``batched`` logits and the same rows scored one by one
    (the first ``INVARIANCE_ROWS`` rows)."""
    from sentiscore.metrics import softmax

    rows = ids[:INVARIANCE_ROWS]
    runner = make_runner(precision, path, device, None)
    alone = np.concatenate([runner.run(*_one(x, pad_id)) for x in rows]) if rows else batched[:0]
    return float(np.abs(softmax(alone) - softmax(batched[: len(rows)])).max(initial=0.0))


def _one(x: np.ndarray, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    mb = next(iter_micro_batches([x], max(len(x), 16), pad_id))
    return mb.input_ids, mb.attention_mask


def compare(
    precision: str,
    path: str,
    ref: np.ndarray,
    ids: list[np.ndarray],
    pad_id: int,
    val: ValidationSet,
    cfg: ExportConfig,
    ref_acc: float | None,
    row_invariant: bool | None = None,
) -> VariantResult:
    """Run the variant at ``path`` on ``ids`` and gate it against the reference logits."""
    device = "cuda" if precision == "fp16" and cuda_available() else "cpu"
    logits, ms = onnx_logits(precision, path, device, ids, pad_id)
    delta = np.abs(logits - ref)
    agree = float((logits.argmax(1) == ref.argmax(1)).mean())
    acc = float((logits.argmax(1) == val.labels).mean()) if val.labels is not None else None
    res = VariantResult(
        precision,
        os.path.basename(path),
        round(os.path.getsize(path) / 2**20, 2),
        float(delta.max()),
        float(delta.mean()),
        agree,
        acc,
        round(ms, 3),
        device,
        row_invariant=row_invariant,
        logits=logits,
    )
    if device == "cpu":
        res.invariance = invariance(precision, path, device, ids, pad_id, logits)
    res.reasons = gate(res, cfg, ref_acc)
    res.status = "failed" if res.reasons else "ok"
    return res


def gate(r: VariantResult, cfg: ExportConfig, ref_acc: float | None) -> list[str]:
    """Why the variant fails its gate (empty when it passes)."""
    reasons = []
    if r.row_invariant and r.invariance is not None and r.invariance > cfg.max_invariance_delta:
        reasons.append(
            f"row invariance: max |dp| alone vs batched {r.invariance:.2e} > {cfg.max_invariance_delta:.0e}"
        )
    if r.precision == "fp32":
        if r.agreement < cfg.min_agreement_fp32:
            reasons.append(f"agreement {r.agreement:.2%} < {cfg.min_agreement_fp32:.1%}")
        if r.max_abs_delta > cfg.max_delta_fp32:
            reasons.append(f"max |dlogit| {r.max_abs_delta:.2e} > {cfg.max_delta_fp32:.0e}")
    elif r.precision in ("int8", "int8-static"):
        if r.accuracy is not None and ref_acc is not None:
            drop = (ref_acc - r.accuracy) * 100
            if drop > cfg.max_drop:
                reasons.append(f"accuracy drop {drop:.2f} pt > {cfg.max_drop} pt")
        elif r.agreement < cfg.min_agreement_int8:
            reasons.append(f"agreement {r.agreement:.2%} < {cfg.min_agreement_int8:.0%}")
    elif r.agreement < cfg.min_agreement_fp16:
        reasons.append(f"agreement {r.agreement:.2%} < {cfg.min_agreement_fp16:.0%}")
    return reasons
