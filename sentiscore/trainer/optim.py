"""Layer-wise learning-rate decay (``--layer-decay``): optimizer parameter groups whose learning
rate shrinks by a constant factor per layer from the classifier head down to the embeddings.

The head and pooler train at ``--lr``, encoder layer i (of L) at ``lr * decay**(L - i)`` and the
embeddings at ``lr * decay**(L + 1)`` (as in ELECTRA's and BEiT's fine-tuning recipes). Biases
and LayerNorm weights get no weight decay, like the HF Trainer's default optimizer. The
scheduler stays the Trainer's. Which layers exist is read from parameter names; models whose
names carry no layer index get the base rate everywhere (logged).
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|block|blocks|h)\.(\d+)\.")
_NO_DECAY = ("bias", "Norm.weight", "norm.weight")  # LayerNorm, layer_norm, layernorm, ...


def layer_of(name: str, num_layers: int) -> int:
    """0 for embeddings, i + 1 for encoder layer i, num_layers + 1 for everything above."""
    match = _LAYER.search(name)
    if match:
        return int(match.group(1)) + 1
    if "embeddings" in name or "embed_tokens" in name or "wte" in name or "wpe" in name:
        return 0
    return num_layers + 1


def _num_layers(model) -> int:
    config = model.config
    for attr in ("num_hidden_layers", "n_layers", "num_layers", "n_layer"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 0


def layer_decay_groups(model, lr: float, decay: float, weight_decay: float) -> list[dict]:
    """AdamW parameter groups, one per (depth, weight decay or not)."""
    num_layers = _num_layers(model)
    if not num_layers:
        log.warning("--layer-decay: the model config names no layer count; using --lr everywhere")
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        depth = layer_of(name, num_layers) if num_layers else 0
        no_decay = any(name.endswith(s) for s in _NO_DECAY)
        key = (depth, no_decay)
        if key not in groups:
            scale = decay ** (num_layers + 1 - depth) if num_layers else 1.0
            groups[key] = {
                "params": [],
                "lr": lr * scale,
                "weight_decay": 0.0 if no_decay else weight_decay,
            }
        groups[key]["params"].append(param)
    # head first: the Trainer logs the first group's rate as "learning_rate"
    return [groups[k] for k in sorted(groups, reverse=True)]


def build_optimizer(model, args, decay: float):
    """The optimizer the Trainer would build from ``args`` (class, fused kernels, betas, eps),
    over ``layer_decay_groups`` instead of its two default groups. The Trainer adds the schedule."""
    from transformers import Trainer

    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    groups = layer_decay_groups(model, args.learning_rate, decay, args.weight_decay)
    return cls(groups, **kwargs)
