"""The Hugging Face Trainer as sentiscore runs it: a loss with class weights and R-Drop, and a
callback that also scores the last step.

Imports torch and transformers at import time: ``run`` imports this module only when it
trains. Arguments, data and reporting are ``run``'s, ``data``'s and ``report``'s.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
import transformers


class SentiscoreTrainer(transformers.Trainer):
    """``transformers.Trainer`` whose loss can add class weights (``class_weights``, one per
    label) and R-Drop (``rdrop`` > 0: each training batch runs twice with two dropout masks and
    the loss adds ``rdrop`` x the symmetric KL divergence of the two predictions). With neither,
    the loss is the Trainer's own."""

    def __init__(self, *args, class_weights=None, rdrop: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.rdrop = rdrop
        if class_weights is not None or rdrop:
            # This loss is a per-batch mean: the Trainer must divide it by the accumulation
            # steps itself rather than expect a loss summed over num_items_in_batch.
            self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        if self.class_weights is None and not self.rdrop:
            return super().compute_loss(model, inputs, return_outputs=return_outputs, **kwargs)
        labels = inputs.pop("labels")
        twice = self.rdrop > 0 and model.training  # two dropout masks in one doubled batch
        if twice:
            inputs = {k: torch.cat([v, v]) for k, v in inputs.items()}
            labels = torch.cat([labels, labels])
        outputs = model(**inputs)
        logits = outputs.logits.float()
        weight = (
            torch.tensor(self.class_weights, dtype=logits.dtype, device=logits.device)
            if self.class_weights is not None
            else None
        )
        loss = F.cross_entropy(
            logits, labels, weight=weight, label_smoothing=self.args.label_smoothing_factor
        )
        if twice:
            a, b = F.log_softmax(logits, -1).chunk(2)
            kl = F.kl_div(a, b, log_target=True, reduction="batchmean") + F.kl_div(
                b, a, log_target=True, reduction="batchmean"
            )
            loss = loss + self.rdrop * 0.5 * kl
        return (loss, outputs) if return_outputs else loss


class QuietProgressCallback(transformers.trainer_callback.ProgressCallback):
    """The Trainer's progress bars without its raw log dicts on the console (they are in
    metrics.json and the plots; -v shows them as debug log lines)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        logging.getLogger("sentiscore.trainer").debug("%s", logs)


def quiet(trainer) -> None:
    """Replace the callbacks that print every log dict (bars kept, see above)."""
    cb = transformers.trainer_callback
    printing = cb.PrinterCallback, cb.ProgressCallback
    bars = any(isinstance(c, cb.ProgressCallback) for c in trainer.callback_handler.callbacks)
    for kind in printing:
        trainer.remove_callback(kind)
    if bars:
        trainer.add_callback(QuietProgressCallback)


class FinalEvalCallback(transformers.TrainerCallback):
    """With step-based evaluation, also score the last step, so the end model can be kept."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
        return control
