"""train(): fine-tune a Hugging Face encoder with the HF Trainer, efficiently by default.

Tokenises once with the same ``TextEncoder`` the scorer uses (so head+tail truncation is
identical at train and inference time), pads dynamically, groups batches by length, picks
bf16/fp16 on GPU, keeps the best checkpoint, and hands the finished run to ``report`` for
metrics, plots, predictions and the model card. Data loading is ``data``'s; search is
``search``'s; bundles are the export stage's.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import shutil
import time

import numpy as np

from sentiscore.errors import TrainingError, first_line, require
from sentiscore.infer.tokenize import TextEncoder, copy_tokenizer
from sentiscore.modeling.hub import offline_mode
from sentiscore.modeling.pooling import load_classifier
from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.data import TrainData, load_training_data
from sentiscore.trainer.report import TrainResult, write_run

log = logging.getLogger(__name__)
MODEL_MAX = 512


def _load_model(cfg: TrainConfig, label_names: list[str]):
    offline = None if os.path.isdir(cfg.model) else offline_mode()
    transformers = require("transformers", "train", "Training")
    id2label = dict(enumerate(label_names))
    try:
        tok = transformers.AutoTokenizer.from_pretrained(cfg.model, use_fast=True)
        model = load_classifier(
            cfg.model,
            cfg.pooling,
            num_labels=len(label_names),
            id2label=id2label,
            label2id={v: k for k, v in id2label.items()},
            ignore_mismatched_sizes=True,
        )
    except OSError as exc:
        first = first_line(exc, 200)
        raise TrainingError(
            f"Model '{cfg.model}' to load (hub id or local directory)",
            f"the hub is not reachable ({offline}) and it is not in the local cache"
            if offline
            else first,
            "pass a local model directory (--model path/to/model, saved with save_pretrained)"
            if offline
            else "check the name/path, or pass a local model directory when offline",
        ) from exc
    if not getattr(tok, "is_fast", False):
        raise TrainingError(
            "A fast (tokenizers-backed) tokenizer",
            f"{type(tok).__name__} for {cfg.model}",
            "use a model that ships tokenizer.json",
        )
    return tok, model


def choose_max_length(encoder_lengths: list[int], cfg: TrainConfig, model) -> int:
    cap = min(
        MODEL_MAX, int(getattr(model.config, "max_position_embeddings", MODEL_MAX) or MODEL_MAX)
    )
    if getattr(model.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        cap = min(cap, MODEL_MAX)  # position offset of 2 is already inside 514
    if cfg.max_length:
        if cfg.max_length > cap:
            raise TrainingError(
                f"--max-length <= {cap} for this model",
                str(cfg.max_length),
                f"use --max-length {cap} or less",
            )
        return cfg.max_length
    p95 = int(np.percentile(encoder_lengths, 95)) if encoder_lengths else cap
    return int(min(cap, max(16, -(-p95 // 8) * 8)))


def _encode(tok, texts: list[str], labels: list[int], max_length: int, cfg: TrainConfig):
    datasets = require("datasets", "train", "Training")
    encoder = TextEncoder(
        copy_tokenizer(tok.backend_tokenizer),
        max_length,
        cfg.truncation,
        cfg.head_fraction,
    )
    ids = encoder.encode(texts)
    return datasets.Dataset.from_dict(
        {
            "input_ids": [x.tolist() for x in ids],
            "attention_mask": [[1] * len(x) for x in ids],
            "labels": labels,
            "length": [len(x) for x in ids],
        }
    )


def _native_bf16() -> tuple[bool, str]:
    """Whether this CPU has bf16 instructions (AVX-512 BF16 or AMX), and what it is."""
    from sentiscore.infer.cpu import cpu_info

    info = cpu_info()
    feats = set(info["features"])
    listed = ", ".join(sorted(feats)) or "no listed features"
    return bool(feats & {"avx512_bf16", "amx_bf16"}), f"{info['model']} with {listed}"


def resolve_precision(cfg: TrainConfig) -> str:
    """The precision a run trains in. auto: bf16 (or fp16 without bf16) on a CUDA GPU; on a CPU
    bf16 where it has native bf16 (autocast over fp32 weights: 1.5x the fp32 step at the same
    accuracy, docs/training.md), else fp32."""
    import torch

    want = cfg.precision
    cuda = torch.cuda.is_available()
    if want == "auto" and cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    native, cpu = (False, "") if cuda else _native_bf16()
    if want == "auto":
        want = "bf16" if native else "fp32"
        log.info("precision auto on cpu: %s (%s)", want, cpu)
    if want == "bf16" and not cuda and not native:
        raise TrainingError(
            "A CUDA GPU, or a CPU with native bf16 (AVX-512 BF16 or AMX), for --precision bf16",
            cpu,
            "use --precision auto or fp32",
        )
    if want == "fp16" and not cuda:
        raise TrainingError(
            "A CUDA GPU for --precision fp16", "none available", "use --precision auto or fp32"
        )
    return want


def _precision_flags(cfg: TrainConfig) -> dict:
    """TrainingArguments' mixed-precision flags for ``resolve_precision``'s choice; bf16 on a
    CPU runs under autocast (``use_cpu``)."""
    import torch

    want = resolve_precision(cfg)
    flags = {"bf16": want == "bf16", "fp16": want == "fp16"}
    return flags | ({"use_cpu": True} if want == "bf16" and not torch.cuda.is_available() else {})


def training_arguments(cfg: TrainConfig, n_train: int):
    transformers = require("transformers", "train", "Training")
    params = inspect.signature(transformers.TrainingArguments.__init__).parameters
    kwargs = dict(
        output_dir=os.path.join(cfg.output, "checkpoints"),
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        num_train_epochs=cfg.epochs,
        weight_decay=cfg.weight_decay,
        warmup_ratio=cfg.warmup_ratio,
        lr_scheduler_type=cfg.scheduler,
        gradient_accumulation_steps=cfg.grad_accum,
        label_smoothing_factor=cfg.label_smoothing,
        seed=cfg.seed,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=cfg.metric_name,
        greater_is_better=cfg.greater_is_better,
        logging_steps=max(1, min(cfg.logging_steps, n_train // max(cfg.batch_size, 1) or 1)),
        report_to="none",
        disable_tqdm=not cfg.progress,
        gradient_checkpointing=cfg.gradient_checkpointing,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch_cuda(),  # pinned memory only helps copies to a GPU
        **_precision_flags(cfg),
    )
    kwargs.update(_eval_schedule(cfg, n_train))
    if "eval_strategy" not in params:  # transformers < 4.41
        kwargs["evaluation_strategy"] = kwargs.pop("eval_strategy")
    if "warmup_ratio" not in params:  # transformers 5: warmup_steps takes a ratio when < 1
        kwargs["warmup_steps"] = cfg.warmup_ratio
    if "group_by_length" in params:
        kwargs["group_by_length"] = True
    elif "train_sampling_strategy" in params:
        kwargs["train_sampling_strategy"] = "group_by_length"
    if "save_safetensors" in params:
        kwargs["save_safetensors"] = True
    kwargs.update(_cuda_speed(params))
    return transformers.TrainingArguments(
        **known_arguments(kwargs, params, transformers.__version__)
    )


def _cuda_speed(params) -> dict:
    """On a CUDA GPU: TF32 matrix products (fp32 parts of an autocast step) and the fused
    AdamW kernel (one launch per step instead of one per tensor). Attention is SDPA, which
    transformers picks by default for BERT-family models. Nothing changes on a CPU."""
    if not torch_cuda():
        return {}
    import torch

    extra = {"optim": "adamw_torch_fused"} if "optim" in params else {}
    if "tf32" in params and torch.cuda.get_device_capability()[0] >= 8:
        extra["tf32"] = True
    return extra


def known_arguments(kwargs: dict, params, version: str) -> dict:
    """``kwargs`` when ``TrainingArguments`` takes every one of them; a clear error otherwise
    (a silently dropped argument would train with a setting the user did not ask for)."""
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise TrainingError(
            "transformers.TrainingArguments to accept every setting sentiscore passes",
            f"transformers {version} does not take {unknown}",
            "install a supported transformers: pip install 'transformers>=4.45,<4.58'",
        )
    return kwargs


def _eval_schedule(cfg: TrainConfig, n_train: int) -> dict:
    """Evaluate and save every epoch, or every 1/evals_per_epoch of one (in optimizer steps)."""
    if cfg.evals_per_epoch == 1:
        return {"eval_strategy": "epoch", "save_strategy": "epoch"}
    steps_per_epoch = math.ceil(math.ceil(n_train / cfg.batch_size) / cfg.grad_accum)
    every = max(1, math.ceil(steps_per_epoch / cfg.evals_per_epoch))
    return {
        "eval_strategy": "steps",
        "eval_steps": every,
        "save_strategy": "steps",
        "save_steps": every,
    }


def _compute_metrics(eval_pred):
    from sentiscore.metrics import classification_report, softmax

    logits, labels = eval_pred
    logits = logits[0] if isinstance(logits, tuple) else logits
    probs = softmax(logits)
    rep = classification_report(labels, probs, [str(i) for i in range(probs.shape[1])])
    return {"accuracy": rep["accuracy"], "f1_macro": rep["f1_macro"], "ece": rep["ece"]}


def _class_weights(labels: list[int], k: int) -> list[float]:
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    return (counts.sum() / (k * np.maximum(counts, 1))).tolist()


def _build_trainer(cfg: TrainConfig, data: TrainData, tok, model, train_ds, eval_ds):
    transformers = require("transformers", "train", "Training")
    from sentiscore.trainer.hf_trainer import FinalEvalCallback, SentiscoreTrainer, quiet

    args = training_arguments(cfg, len(train_ds))
    weights = (
        _class_weights(data.train.labels, len(data.label_names)) if cfg.class_weights else None
    )
    callbacks = (
        [transformers.EarlyStoppingCallback(cfg.early_stopping_patience * cfg.evals_per_epoch)]
        if cfg.early_stopping_patience
        else []
    )
    if cfg.evals_per_epoch > 1:
        callbacks.append(FinalEvalCallback())
    tok_kw = (
        "processing_class"
        if "processing_class" in inspect.signature(transformers.Trainer.__init__).parameters
        else "tokenizer"
    )
    collator = transformers.DataCollatorWithPadding(
        tok, pad_to_multiple_of=8 if torch_cuda() else None
    )
    optimizers = (None, None)
    if cfg.layer_decay < 1:
        from sentiscore.trainer.optim import build_optimizer

        optimizers = (build_optimizer(model, args, cfg.layer_decay), None)
    trainer = SentiscoreTrainer(
        model=model,
        args=args,
        class_weights=weights,
        rdrop=cfg.rdrop,
        optimizers=optimizers,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=collator,
        compute_metrics=_compute_metrics,
        callbacks=callbacks,
        **{tok_kw: tok},
    )
    quiet(trainer)
    return trainer


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _last_checkpoint(cfg: TrainConfig) -> str | None:
    if not cfg.resume:
        return None
    from transformers.trainer_utils import get_last_checkpoint

    ckpt_dir = os.path.join(cfg.output, "checkpoints")
    last = get_last_checkpoint(ckpt_dir) if os.path.isdir(ckpt_dir) else None
    if last is None:
        log.warning("--resume: no checkpoint under %s; starting from scratch", ckpt_dir)
    return last


def train(cfg: TrainConfig) -> TrainResult:
    """Run one fine-tuning job; return what it produced. (A search over several jobs is
    ``search``'s; exporting the result is ``sentiscore.pipeline``'s.)"""
    os.makedirs(cfg.output, exist_ok=True)
    if not os.access(cfg.output, os.W_OK):
        raise TrainingError(
            "A writable --output directory",
            f"'{cfg.output}' is not writable",
            "choose another path",
        )
    require("torch", "train", "Training")
    data = load_training_data(cfg)
    tok, model = _load_model(cfg, data.label_names)
    probe = TextEncoder(
        copy_tokenizer(tok.backend_tokenizer),
        MODEL_MAX * 8,
        "head",
    )
    max_length = choose_max_length(
        [len(x) for x in probe.encode(data.train.texts[:5000])], cfg, model
    )
    train_ds = _encode(tok, data.train.texts, data.train.labels, max_length, cfg)
    eval_ds = _encode(tok, data.eval.texts, data.eval.labels, max_length, cfg)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    trainer = _build_trainer(cfg, data, tok, model, train_ds, eval_ds)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=_last_checkpoint(cfg))
    runtime = time.perf_counter() - started
    logits = predict_logits(trainer.model, eval_ds, cfg.eval_batch_size, trainer.data_collator)
    done = write_run(
        cfg, data, trainer, tok, max_length, np.asarray(logits, dtype=np.float32), result, runtime
    )
    if not cfg.keep_checkpoints:  # the best model is in model/; checkpoints only serve --resume
        shutil.rmtree(os.path.join(cfg.output, "checkpoints"), ignore_errors=True)
    return done


def predict_logits(model, ds, batch_size: int, collator) -> np.ndarray:
    """Eval logits in dataset order. (Trainer.predict may group eval batches by length, which
    permutes rows, so the final predictions are made here.)"""
    import torch

    model.eval()
    cols = ds.remove_columns(
        [c for c in ds.column_names if c not in ("input_ids", "attention_mask")]
    )
    out = []
    with torch.no_grad():
        for start in range(0, len(cols), batch_size):
            batch = collator([cols[i] for i in range(start, min(start + batch_size, len(cols)))])
            batch = {k: v.to(model.device) for k, v in batch.items()}
            with torch.autocast(
                model.device.type, enabled=model.device.type == "cuda", dtype=torch.bfloat16
            ):
                out.append(model(**batch).logits.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels), np.float32)
