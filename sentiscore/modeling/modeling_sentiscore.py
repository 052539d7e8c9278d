"""MeanPooledBertForSequenceClassification: BERT's classifier, read through mean pooling.

Hugging Face's BERT classifier reads the [CLS] token through the pooler. Sentence-embedding
checkpoints (sentence-transformers' all-MiniLM-L6-v2 and friends) were trained to be read by
averaging the token vectors, so their [CLS] vector is a weak starting point. This class keeps
BertForSequenceClassification's modules and parameter names (so checkpoints, --resume and
layer-wise lr decay work unchanged) and replaces only the read-out: the last hidden states
averaged over the attention mask, then dropout and the linear classifier. The pooler is unused.

This file imports only torch and transformers: ``save_pretrained`` copies it next to the
weights, so ``AutoModelForSequenceClassification.from_pretrained(dir, trust_remote_code=True)``
works without sentiscore. Choosing the pooling and loading models is ``pooling``'s business.
"""

from __future__ import annotations

import torch
from transformers import BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput


class MeanPooledBertForSequenceClassification(BertForSequenceClassification):
    """BertForSequenceClassification with a masked mean over the last hidden states."""

    # The loss below is a per-batch mean and ignores ``num_items_in_batch``: tell the HF
    # Trainer so, or (seeing ``**kwargs`` in forward) it skips dividing the loss by the
    # gradient-accumulation steps.
    accepts_loss_kwargs = False

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ):
        out = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            head_mask=head_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        hidden = out.last_hidden_state
        if attention_mask is None:
            mask = torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device)
        else:
            mask = attention_mask.to(hidden.dtype)
        mask = mask.unsqueeze(-1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = self._loss(logits, labels)
        return SequenceClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )

    def _loss(self, logits, labels):
        if self.num_labels == 1:
            return torch.nn.functional.mse_loss(logits.squeeze(-1), labels.float())
        return torch.nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
