"""search(): a small random search over lr, batch size and epochs (the SST recipe's
"hyper-parameter search"). Each trial is a full ``train`` into RUN_DIR/trials/trial-N; the
table goes to trials.json and trials.md; the best trial's outputs are copied to RUN_DIR.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import random
import shutil

from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.report import TrainResult
from sentiscore.trainer.run import train

log = logging.getLogger(__name__)


def _grid(cfg: TrainConfig) -> list[dict]:
    space = cfg.search_space
    keys = sorted(space)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]
    random.Random(cfg.seed).shuffle(combos)
    return combos[: cfg.search_trials]


def search(cfg: TrainConfig) -> TrainResult:
    """Train ``cfg.search_trials`` random trials; copy the best one (by ``metric_for_best``,
    in its own direction) into ``cfg.output`` and return it with the trial table."""
    os.makedirs(cfg.output, exist_ok=True)
    trials, best = [], None
    higher = cfg.greater_is_better
    for n, params in enumerate(_grid(cfg), start=1):
        out = os.path.join(cfg.output, "trials", f"trial-{n}")
        trial_cfg = dataclasses.replace(cfg, **params, output=out, search_trials=0, export=False)
        result = train(trial_cfg)
        score = result.score(cfg.metric_name)
        row = {
            "trial": n,
            **params,
            cfg.metric_name: score,
            "accuracy": result.final["accuracy"],
            "f1_macro": result.final["f1_macro"],
            "runtime_s": result.metrics["runtime_s"],
            "output": out,
        }
        trials.append(row)
        log.info("trial %d %s -> %s %.4f", n, params, cfg.metric_name, score)
        if best is None or (score > best[0] if higher else score < best[0]):
            best = (score, n, result)
    _write_table(cfg, trials)
    _, n, result = best
    src = os.path.join(cfg.output, "trials", f"trial-{n}")
    for name in (
        "model",
        "plots",
        "metrics.json",
        "predictions.parquet",
        "train_config.json",
        "README.md",
    ):
        dst = os.path.join(cfg.output, name)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        (shutil.copytree if os.path.isdir(os.path.join(src, name)) else shutil.copy2)(
            os.path.join(src, name), dst
        )
    return dataclasses.replace(
        result,
        model_dir=os.path.join(cfg.output, "model"),
        output=cfg.output,
        trials=trials,
        best_trial=n,
    )


def _write_table(cfg: TrainConfig, trials: list[dict]) -> None:
    with open(os.path.join(cfg.output, "trials.json"), "w", encoding="utf-8") as f:
        json.dump(trials, f, indent=2)
    keys = [k for k in trials[0] if k != "output"]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += [
        "| "
        + " | ".join(
            f"{t[k]:.4f}" if isinstance(t[k], float) and k not in ("learning_rate",) else str(t[k])
            for k in keys
        )
        + " |"
        for t in trials
    ]
    with open(os.path.join(cfg.output, "trials.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
