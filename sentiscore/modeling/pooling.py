"""Which read-out a classifier uses ([CLS] or mean pooling), and loading it accordingly.

``resolve_pooling`` turns ``--pooling auto|cls|mean`` into ``cls`` or ``mean``: an explicit
choice wins; ``auto`` keeps what a sentiscore-trained checkpoint recorded
(``sentiscore_pooling`` in config.json), else [CLS]. (Mean pooling is not the automatic choice
for sentence-transformers checkpoints: on SST-2 all-MiniLM-L6-v2 measured no better with it,
docs/experiments/sst2-cpu.md.) ``load_classifier`` is the one loader the
trainer and the export stage use, so a mean-pooled model is never silently read as [CLS].
The mean-pooled class itself is ``modeling_sentiscore``'s.
"""

from __future__ import annotations

import json
import logging
import os

from sentiscore.choices import POOLINGS
from sentiscore.errors import ConfigError, require

log = logging.getLogger(__name__)
CONFIG_KEY = "sentiscore_pooling"
MEAN_MODEL_TYPES = ("bert",)


def checkpoint_pooling(model: str) -> str | None:
    """The pooling a sentence-transformers checkpoint was trained with, if it says so."""
    path = os.path.join(model, "1_Pooling", "config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            modes = json.load(f)
    except (OSError, ValueError):
        return None
    if modes.get("pooling_mode_mean_tokens"):
        return "mean"
    if modes.get("pooling_mode_cls_token"):
        return "cls"
    return None


def resolve_pooling(requested: str, model: str, config) -> str:
    """``cls`` or ``mean`` for ``model`` (dir or hub id) with its loaded ``config``."""
    if requested not in POOLINGS:
        raise ConfigError(
            f"--pooling one of {', '.join(POOLINGS)}", repr(requested), "pick one of those"
        )
    if requested == "auto":
        found = getattr(config, CONFIG_KEY, None)
        chosen = found if found in ("cls", "mean") else "cls"
        log.info(
            "pooling: %s (auto, %s)", chosen, "recorded in config.json" if found else "default"
        )
        if checkpoint_pooling(model) == "mean" and not found:
            log.info("this checkpoint was trained with mean pooling; --pooling mean uses it")
        return chosen
    if requested == "mean" and config.model_type not in MEAN_MODEL_TYPES:
        raise ConfigError(
            f"--pooling mean on a model of type {', '.join(MEAN_MODEL_TYPES)}",
            f"model_type '{config.model_type}' in {model}",
            "use --pooling cls (or auto) for this model",
        )
    return requested


def classifier_class(pooling: str):
    """The transformers class that reads a classifier with ``pooling``."""
    if pooling == "mean":
        from sentiscore.modeling.modeling_sentiscore import MeanPooledBertForSequenceClassification

        return MeanPooledBertForSequenceClassification
    transformers = require("transformers", "train", "Loading a model")
    return transformers.AutoModelForSequenceClassification


def load_classifier(model: str, pooling: str = "auto", **kwargs):
    """Load a sequence classifier from ``model`` with the right read-out, in fp32.

    Mean-pooled models record the choice in their config and register their class for
    ``AutoModelForSequenceClassification(..., trust_remote_code=True)``."""
    transformers = require("transformers", "train", "Loading a model")
    config = transformers.AutoConfig.from_pretrained(model)
    chosen = resolve_pooling(pooling, model, config)
    cls = classifier_class(chosen)
    loaded = cls.from_pretrained(model, **kwargs)
    loaded.config.update({CONFIG_KEY: chosen})
    if chosen == "mean":
        cls.register_for_auto_class("AutoModelForSequenceClassification")
    elif getattr(loaded.config, "auto_map", None):
        del loaded.config.auto_map  # a [CLS] model must not point at the mean-pooled class
    return loaded.float()
