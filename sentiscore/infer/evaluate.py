"""evaluate_bundle(): score labeled data with a bundle and report accuracy, P/R/F1, ROC AUC,
confusion matrix and ECE, as metrics.json plus PNG plots.

Uses ``Scorer`` for predictions and ``sentiscore.metrics`` for the numbers (no sklearn), so
it runs on the CPU scorer install; plots need matplotlib and are optional.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from sentiscore.errors import ConfigError, InputDataError
from sentiscore.infer.scorer import Scorer
from sentiscore.io.readers import discover_inputs, iter_batches
from sentiscore.metrics import classification_report


@dataclass
class EvaluateConfig:
    """Options of ``sentiscore evaluate``.

    bundle: bundle directory or 'default'. data: labeled files/dirs/globs.
    text_column / label_column: columns in data; labels may be ids or label names.
    output: directory for metrics.json and plots (default <bundle>/eval-<first data stem>,
        or ./eval-<stem> for the default bundle). limit: first N rows only.
    max_tokens / chunk_rows: micro-batch token budget and rows read per batch, as in
        ``score``; row-invariant variants give the same metrics for any values.
    """

    bundle: str
    data: list
    text_column: str = "text"
    label_column: str = "label"
    output: str | None = None
    device: str = "auto"
    precision: str = "auto"
    limit: int | None = None
    plots: bool = True
    max_tokens: int | None = None
    chunk_rows: int = 4096

    def __post_init__(self):
        if isinstance(self.data, str):
            self.data = [self.data]
        if not self.data:
            raise ConfigError("DATA with labeled rows", "none", "pass a Parquet/CSV/JSONL file")
        if self.chunk_rows < 1:
            raise ConfigError(
                "--chunk-rows >= 1", str(self.chunk_rows), "drop it or give a positive number"
            )
        if self.limit is not None and self.limit < 1:
            raise ConfigError("--limit >= 1", str(self.limit), "drop it or give a positive number")


def _label_ids(values: list, labels: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(labels)}
    out = []
    for v in values:
        if isinstance(v, str) and v in index:
            out.append(index[v])
        elif isinstance(v, (int, np.integer)) and 0 <= int(v) < len(labels):
            out.append(int(v))
        else:
            raise InputDataError(
                f"Labels that are ids 0..{len(labels) - 1} or one of {labels}",
                repr(v),
                "fix --label-column or map the labels",
            )
    return np.asarray(out, dtype=np.int64)


def _collect(cfg: EvaluateConfig, scorer: Scorer) -> tuple[np.ndarray, np.ndarray, int]:
    probs, labels, skipped, left = [], [], 0, cfg.limit
    for inp in discover_inputs(cfg.data):
        for batch in iter_batches(inp, batch_rows=cfg.chunk_rows):
            if cfg.label_column not in batch.schema.names:
                raise InputDataError(
                    f"A label column named '{cfg.label_column}'",
                    f"columns {batch.schema.names}",
                    "pass --label-column NAME",
                )
            if left is not None:
                batch = batch.slice(0, left)
                left -= batch.num_rows
            out = scorer.score_batch(
                batch.select(
                    [cfg.text_column]
                    if cfg.text_column in batch.schema.names
                    else batch.schema.names
                ),
                cfg.text_column,
                keep_columns="none",
            )
            ok = np.asarray([e is None for e in out.column("error").to_pylist()])
            skipped += int((~ok).sum())
            p = np.stack(
                [out.column(f"prob_{lab}").to_numpy(zero_copy_only=False) for lab in scorer.labels],
                axis=1,
            )
            probs.append(p[ok])
            labels.append(
                _label_ids(
                    [v for v, good in zip(batch.column(cfg.label_column).to_pylist(), ok) if good],
                    scorer.labels,
                )
            )
            if left == 0:
                break
    if not probs or sum(len(p) for p in probs) == 0:
        raise InputDataError(
            "At least one scorable labeled row", "none", "check DATA and --text-column"
        )
    return np.concatenate(probs), np.concatenate(labels), skipped


def evaluate_bundle(cfg: EvaluateConfig, scorer: Scorer | None = None) -> dict:
    """Evaluate; write metrics.json (+ plots) into the output directory; return the report."""
    scorer = scorer or Scorer.load(
        cfg.bundle, device=cfg.device, precision=cfg.precision, max_tokens=cfg.max_tokens
    )
    start = time.perf_counter()
    probs, y, skipped = _collect(cfg, scorer)
    seconds = time.perf_counter() - start
    metrics = classification_report(y, probs, scorer.labels)
    stem = discover_inputs(cfg.data)[0].stem
    out = cfg.output or (
        os.path.join(scorer.bundle.path, f"eval-{stem}")
        if cfg.bundle != "default"
        else f"eval-{stem}"
    )
    os.makedirs(out, exist_ok=True)
    report = {
        "bundle": scorer.bundle.path,
        "bundle_version": scorer.bundle.meta.get("version"),
        "data": list(cfg.data),
        "device": scorer.device,
        "precision": scorer.precision,
        "temperature": scorer.temperature,
        "rows_skipped_bad_text": skipped,
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(y) / seconds, 2) if seconds else None,
        "padding_efficiency": round(scorer.stats.padding_efficiency, 4),
        "metrics": metrics,
        "output": out,
        "config": asdict(cfg),
    }
    if cfg.plots:
        from sentiscore.plots import evaluation_plots

        report["plots"] = evaluation_plots(y, probs, metrics, out)
    with open(os.path.join(out, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    return report
