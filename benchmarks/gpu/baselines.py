"""The PyTorch side of the GPU benchmark: random HF models of the default model's shape and
bert-base's, the ``transformers.pipeline`` baseline, and fine-tuning samples/s of the notebook
recipe and of ``sentiscore train``. ``gpu_bench.py`` runs them as steps; ONNX Runtime
measurements stay there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pyarrow.parquet as pq

SUBPROCESS_TIMEOUT = 150  # seconds: one stuck command must not take the whole lease


def hf_model(shape: str, tokenizer_json: str, out: str) -> str:
    """A random BertForSequenceClassification of the default model's shape (MiniLM-L6) or
    bert-base's, with the default tokenizer, saved as a HF directory."""
    import torch
    import transformers as T
    from tokenizers import Tokenizer

    torch.manual_seed(0)
    sizes = {
        "minilm": dict(num_hidden_layers=6, hidden_size=384, intermediate_size=1536),
        "bert-base": {},
    }[shape]
    cfg = T.BertConfig(num_labels=2, num_attention_heads=12, **sizes)
    T.BertForSequenceClassification(cfg).save_pretrained(out)
    tok = T.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_file(tokenizer_json),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    tok.save_pretrained(out)
    return out


def pipeline_baseline(model_dir: str, data: str, rows: int, device: str) -> dict:
    """transformers.pipeline, fp32, batch 32, truncation at 512 tokens: the notebook way."""
    import torch
    import transformers as T

    texts = pq.read_table(data, columns=["text"]).column(0).to_pylist()[:rows]
    pipe = T.pipeline(
        "text-classification",
        model=model_dir,
        device=0 if device == "cuda" else -1,
        torch_dtype=torch.float32,
    )
    pipe(texts[:64], batch_size=32, truncation=True, max_length=512)  # warm-up
    _sync(device)
    t = time.perf_counter()
    pipe(texts, batch_size=32, truncation=True, max_length=512)
    _sync(device)
    s = time.perf_counter() - t
    attn = getattr(pipe.model.config, "_attn_implementation", None)
    return {
        "rows": len(texts),
        "seconds": round(s, 2),
        "rows_per_s": round(len(texts) / s, 1),
        "attn": attn,
    }


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def train_notebook(model_dir: str, data: str, steps: int, device: str, work: str) -> dict:
    """The notebook recipe: HF Trainer, fp32, every row padded to 512, batch 16."""
    import transformers as T
    from datasets import Dataset

    texts = pq.read_table(data, columns=["text", "label"]).slice(0, steps * 16).to_pydict()
    tok = T.AutoTokenizer.from_pretrained(model_dir)
    enc = tok(texts["text"], truncation=True, max_length=512, padding="max_length")
    ds = Dataset.from_dict({**enc, "labels": texts["label"]})
    model = T.AutoModelForSequenceClassification.from_pretrained(model_dir)
    args = T.TrainingArguments(
        output_dir=os.path.join(work, "nb"),
        per_device_train_batch_size=16,
        max_steps=steps,
        report_to="none",
        save_strategy="no",
        logging_steps=10**6,
        disable_tqdm=True,
        use_cpu=device != "cuda",
    )
    m = T.Trainer(model=model, args=args, train_dataset=ds).train().metrics
    return {"steps": steps, "batch": 16, "samples_per_s": m.get("train_samples_per_second")}


def train_sentiscore(model_dir: str, data: str, dev: str, rows: int, batch: int, work: str):
    """``sentiscore train`` on the same model and text: its GPU defaults (bf16 autocast,
    TF32, fused AdamW, SDPA, length-grouped dynamic padding, pinned memory)."""
    out = os.path.join(work, "st-train")
    cmd = [sys.executable, "-m", "sentiscore.cli", "train", "--model", model_dir]
    cmd += ["--data", data, "--eval-data", dev, "-o", out, "--max-train-samples", str(rows)]
    cmd += ["--max-eval-samples", "64", "--epochs", "1", "--batch-size", str(batch)]
    cmd += ["--max-length", "512", "--logging-steps", "1000"]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {SUBPROCESS_TIMEOUT}s"}
    wall = time.perf_counter() - t
    if proc.returncode:
        return {"error": (proc.stderr or proc.stdout).strip()[-1500:]}
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    flat = json.dumps(metrics)
    return {
        "rows": rows,
        "batch": batch,
        "wall_s": round(wall, 1),
        "samples_per_s": _find(metrics, "train_samples_per_s"),
        "precision": json.load(open(os.path.join(out, "train_config.json"))).get("precision"),
        "has_bf16": "bf16" in flat,
    }


def _find(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            found = _find(v, key)
            if found is not None:
                return found
    return None
