"""Prototype (run 12): fine-tune with the word-embedding matrix frozen.

Training is otherwise `sentiscore train` (sentiscore.trainer.run.train); before the Trainer is
built, the word-embedding matrix (11.7M of the model's 22.7M parameters) gets
requires_grad=False, so words seen in SST-2's phrases keep the pretrained geometry shared
with words only dev contains. A callback scores SST-2 dev every half epoch (diagnostics only;
the kept model is chosen by the Trainer's validation split as usual).
usage: run12_freeze.py RUN_DIR LR EPOCHS [SEED]
"""

import sys

import sentiscore.trainer.run as R
from devcurve import DevCB, train_sst2

orig_build = R._build_trainer


def _build_trainer(cfg, data, tok, model, *a, **k):
    emb = model.get_input_embeddings()
    emb.weight.requires_grad_(False)
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"FROZEN word embeddings {tuple(emb.weight.shape)}; trainable {n}", flush=True)
    t = orig_build(cfg, data, tok, model, *a, **k)
    t.add_callback(DevCB())
    return t


R._build_trainer = _build_trainer
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 42
train_sst2(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), seed)
