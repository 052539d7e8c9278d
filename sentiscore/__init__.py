"""sentiscore: fine-tune, export and score review sentiment.

Public API only. Heavy modules (torch, transformers, optimum) are imported lazily so that
``import sentiscore`` stays as light as the CPU scorer install.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Scorer": "sentiscore.infer.scorer",
    "ScoreConfig": "sentiscore.infer.config",
    "score_files": "sentiscore.infer.files",
    "TrainConfig": "sentiscore.trainer.config",
    "train": "sentiscore.trainer.run",
    "ExportConfig": "sentiscore.export.config",
    "export_model": "sentiscore.export.run",
    "evaluate_bundle": "sentiscore.infer.evaluate",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sentiscore' has no attribute {name!r}")
