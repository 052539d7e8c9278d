"""Chaining stages: train (one run or a search), then export the result as a bundle.

The stages never import each other; this module (and the CLI through it) does the chaining.
"""

from __future__ import annotations

import os

from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.report import TrainResult


def train_and_export(cfg: TrainConfig) -> TrainResult:
    """``sentiscore train``: a run (or a ``--search``), then, with ``--export``, a bundle."""
    if cfg.search_trials:
        from sentiscore.trainer.search import search

        result = search(cfg)
    else:
        from sentiscore.trainer.run import train

        result = train(cfg)
    if cfg.export:
        result.bundle = export_run(result)
    return result


def export_run(result: TrainResult) -> str:
    """Export RUN_DIR/model to RUN_DIR/bundle: fp32 + int8, temperature fitted on the
    evaluation split's predictions."""
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    bundle = os.path.join(result.output, "bundle")
    ecfg = ExportConfig(
        precision=("fp32", "int8"),
        validate_with=os.path.join(result.output, "predictions.parquet"),
        text_column="text",
        label_column="label",
        calibrate=True,
        force=True,
    )
    export_model(result.model_dir, bundle, ecfg)
    return bundle
