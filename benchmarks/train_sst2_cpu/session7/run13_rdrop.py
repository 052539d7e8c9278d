"""Prototype (run 13): R-Drop (Liang et al., 2021) regularisation during `sentiscore train`.

Each training batch runs twice through the model in one doubled forward pass (two dropout
masks); the loss is the mean cross-entropy of both plus ALPHA x the symmetric KL divergence
between their predicted distributions, which penalises predictions that depend on which
units dropout removed. Evaluation is unchanged. Everything else is `sentiscore train`.
usage: run13_rdrop.py RUN_DIR LR EPOCHS ALPHA [FREEZE_EMBEDDINGS=0|1]
"""

import sys

import torch, transformers
import torch.nn.functional as F
import sentiscore.trainer.run as R
from sentiscore.trainer.config import TrainConfig
from devcurve import DevCB, train_sst2

ALPHA = float(sys.argv[4])
FREEZE = len(sys.argv) > 5 and sys.argv[5] == "1"


class RDropTrainer(transformers.Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, **kwargs)
        labels = inputs.pop("labels")
        doubled = {k: torch.cat([v, v]) for k, v in inputs.items()}
        outputs = model(**doubled)
        l1, l2 = outputs.logits.float().chunk(2)
        ce = 0.5 * (F.cross_entropy(l1, labels) + F.cross_entropy(l2, labels))
        p1, p2 = F.log_softmax(l1, -1), F.log_softmax(l2, -1)
        kl = 0.5 * (F.kl_div(p1, p2, log_target=True, reduction="batchmean")
                    + F.kl_div(p2, p1, log_target=True, reduction="batchmean"))
        loss = ce + ALPHA * kl
        return (loss, outputs) if return_outputs else loss


R._trainer_class = lambda class_weights: RDropTrainer
orig_build = R._build_trainer


def _build_trainer(cfg, data, tok, model, *a, **k):
    if FREEZE:
        model.get_input_embeddings().weight.requires_grad_(False)
    t = orig_build(cfg, data, tok, model, *a, **k)
    t.add_callback(DevCB())
    return t


R._build_trainer = _build_trainer
train_sst2(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
