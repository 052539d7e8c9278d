"""Every GPU measurement of sentiscore in one run: scoring speed, its time split, the
transformers.pipeline baseline, fp16-vs-CPU-fp32 agreement, and fine-tuning samples/s.

Each step writes into OUT/gpu_bench.json as soon as it ends (a step that fails records its
error and the next one runs), so a run cut short still returns what it measured.
``benchmarks/gpu/run.sh`` sets up the machine and calls this; ``--quick`` runs every step
on the CPU with a few rows, to check the script itself.

    python benchmarks/gpu/gpu_bench.py --out OUT --imdb imdb.parquet --sst2 sst2.parquet \
        --bert-skeleton DIR [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import prep  # noqa: E402
from baselines import (  # noqa: E402
    SUBPROCESS_TIMEOUT,
    hf_model,
    pipeline_baseline,
    train_notebook,
    train_sentiscore,
)

RESULTS: dict = {}


def save(out: str) -> None:
    with open(os.path.join(out, "gpu_bench.json"), "w") as f:
        json.dump(RESULTS, f, indent=2, default=str)


def step(name: str, out: str, fn, *args):
    t = time.perf_counter()
    print(f"== {name}", flush=True)
    try:
        RESULTS[name] = fn(*args)
    except Exception as exc:  # noqa: BLE001 - a failed step is recorded, the next one runs
        RESULTS[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        traceback.print_exc()
    RESULTS.setdefault("step_seconds", {})[name] = round(time.perf_counter() - t, 1)
    print(json.dumps(RESULTS[name], default=str)[:1500], flush=True)
    save(out)
    return RESULTS[name]


def env(device: str) -> dict:
    import onnxruntime as ort

    info = {
        "python": platform.python_version(),
        "cpu_cores": os.cpu_count(),
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
    }
    for mod in ("torch", "transformers", "tokenizers", "pyarrow"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    if device == "cuda":
        q = "name,driver_version,memory.total,clocks.max.sm"
        smi = subprocess.run(
            ["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        info["gpu"] = smi.stdout.strip()
    info["cpu"] = platform.processor() or _cpu_model()
    return info


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def repeated(src: str, dst: str, rows: int, cols=("text", "label")) -> str:
    """``rows`` rows of ``src`` (repeated as needed), with an ``id`` column."""
    table = pq.read_table(src, columns=list(cols))
    reps = -(-rows // table.num_rows)
    big = pa.concat_tables([table] * reps).slice(0, rows)
    big = big.append_column("id", pa.array(np.arange(rows, dtype=np.int64)))
    pq.write_table(big, dst, row_group_size=8192)
    return dst


def score(
    bundle, data, device, precision, work, max_tokens=None, label="run", keep="id", limit=None
):
    stats = os.path.join(work, f"stats-{label}.json")
    out = os.path.join(work, f"out-{label}.parquet")
    cmd = [sys.executable, "-m", "sentiscore.cli", "score", data, "-m", bundle, "--device", device]
    cmd += ["--precision", precision, "-o", out, "--overwrite", "--silent", "--stats-json", stats]
    cmd += ["--keep-columns", keep]
    if max_tokens:
        cmd += ["--max-tokens", str(max_tokens)]
    if limit:
        cmd += ["--limit", str(limit)]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {SUBPROCESS_TIMEOUT}s", "cmd": " ".join(cmd[2:])}
    wall = time.perf_counter() - t
    if proc.returncode:
        return {"error": (proc.stderr or proc.stdout).strip()[-1500:], "cmd": " ".join(cmd[2:])}
    s = json.load(open(stats))
    keep = ("rows", "rows_per_s", "seconds", "padding_efficiency", "precision", "device")
    res = {k: s.get(k) for k in keep}
    res.update(wall_s=round(wall, 2), max_tokens=max_tokens, output=out)
    return res


def score_grid(bundles: dict, files: dict, device: str, precision: str, work: str, budgets):
    res = {}
    for bname, bundle in bundles.items():
        for fname, path in files.get(bname, {}).items():
            for mt in budgets:
                key = f"{bname}/{fname}/max_tokens={mt}"
                print("  ", key, flush=True)
                res[key] = score(bundle, path, device, precision, work, mt, key.replace("/", "_"))
                res[key].pop("output", None)
                print("    ", res[key], flush=True)
    return res


def split(bundle: str, data: str, device: str, precision: str, max_tokens: int, rows: int):
    """Where the time of one pass goes: reading, checks + tokenising, and per micro-batch
    host->device copy, model, device->host copy (CUDA) measured one after another."""
    from sentiscore.infer.batching import iter_micro_batches
    from sentiscore.infer.runner import feeds_for
    from sentiscore.infer.scorer import Scorer

    sc = Scorer.load(bundle, device=device, precision=precision, max_tokens=max_tokens)
    t = time.perf_counter()
    table = pq.read_table(data).slice(0, rows)
    read_s = time.perf_counter() - t
    batches = table.to_batches(max_chunksize=8192)
    t = time.perf_counter()
    preps = [sc.prepare(b, "text", "none") for b in batches]
    tok_s = time.perf_counter() - t
    ids = [i for p in preps for i in p.ids]
    sc.run_ids(ids[:2000])  # warm-up: kernels, arena
    timing = {"h2d": 0.0, "model": 0.0, "d2h": 0.0}
    runner, n_mb, tokens = sc.runner, 0, 0
    t_all = time.perf_counter()
    for mb in iter_micro_batches(ids, sc.max_tokens, same_length=not runner.pads_exactly):
        n_mb += 1
        tokens += mb.input_ids.size
        if device == "cuda":
            _timed_cuda(
                runner, feeds_for(runner.input_names, mb.input_ids, mb.attention_mask), timing
            )
        else:
            t = time.perf_counter()
            runner.run(mb.input_ids, mb.attention_mask)
            timing["model"] += time.perf_counter() - t
    model_pass = time.perf_counter() - t_all
    t = time.perf_counter()
    for p in preps:
        sc.finish(p)
    finish_s = time.perf_counter() - t
    n = table.num_rows
    return {
        "rows": n,
        "read_s": round(read_s, 3),
        "tokenise_s": round(tok_s, 3),
        "tokenise_rows_per_s": round(n / tok_s),
        "micro_batches": n_mb,
        "computed_tokens": tokens,
        **{f"{k}_s": round(v, 3) for k, v in timing.items()},
        "model_pass_s": round(model_pass, 3),
        "model_rows_per_s": round(n / model_pass),
        "finish_s (run+softmax+assemble, serial)": round(finish_s, 3),
        "threads_tokenizers": os.environ.get("RAYON_NUM_THREADS", "all cores"),
    }


def _timed_cuda(runner, feeds: dict, timing: dict) -> None:
    import onnxruntime as ort

    session = runner.session
    t = time.perf_counter()
    values = {
        k: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v), "cuda", 0)
        for k, v in feeds.items()
    }
    timing["h2d"] += time.perf_counter() - t
    binding = session.io_binding()
    for k, v in values.items():
        binding.bind_ortvalue_input(k, v)
    binding.bind_output(runner.output_name, "cuda", 0)
    t = time.perf_counter()
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    timing["model"] += time.perf_counter() - t
    t = time.perf_counter()
    binding.copy_outputs_to_cpu()
    timing["d2h"] += time.perf_counter() - t


def agreement(bundle, labeled: dict, device, precision, work, limit=None) -> dict:
    """Labels and probabilities of ``precision`` on ``device`` against fp32 on the CPU."""
    res = {}
    for name, path in labeled.items():
        fast = score(
            bundle,
            path,
            device,
            precision,
            work,
            label=f"agree-{name}-{precision}",
            keep="none",
            limit=limit,
        )
        ref = score(
            bundle,
            path,
            "cpu",
            "fp32",
            work,
            label=f"agree-{name}-cpu-fp32",
            keep="none",
            limit=limit,
        )
        if "error" in fast or "error" in ref:
            res[name] = {"fast": fast, "cpu_fp32": ref}
            continue
        a, b = pq.read_table(fast["output"]), pq.read_table(ref["output"])
        gold = pq.read_table(path, columns=["label"]).column(0).to_numpy()[: a.num_rows]
        pa_, pb = _probs(a), _probs(b)
        res[name] = {
            "rows": len(gold),
            "label_agreement": float((pa_.argmax(1) == pb.argmax(1)).mean()),
            "max_abs_dp": float(np.abs(pa_ - pb).max()),
            f"accuracy_{precision}_{device}": float((pa_.argmax(1) == gold).mean()),
            "accuracy_fp32_cpu": float((pb.argmax(1) == gold).mean()),
            f"rows_per_s_{device}": fast["rows_per_s"],
            "rows_per_s_cpu_fp32": ref["rows_per_s"],
        }
    return res


def _probs(table: pa.Table) -> np.ndarray:
    cols = sorted(c for c in table.column_names if c.startswith("prob_"))
    return np.stack([table.column(c).to_numpy() for c in cols], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--imdb", required=True, help="Parquet with text and label (long reviews)")
    ap.add_argument("--sst2", required=True, help="Parquet with text and label (sentences)")
    ap.add_argument("--bert-skeleton", required=True, help="prep.py skeleton of a bert-base bundle")
    ap.add_argument("--work", default="/tmp/sentiscore-gpu")
    ap.add_argument("--quick", action="store_true", help="CPU, a few rows: check the script")
    ap.add_argument("--steps", default="env,models,score,split,pipeline,agreement,train")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.work, exist_ok=True)
    q = a.quick
    device, prec = ("cpu", "fp32") if q else ("cuda", "fp16")
    n = {"imdb": 200 if q else 100_000, "sst2": 400 if q else 200_000, "bert": 100 if q else 30_000}
    steps = set(a.steps.split(","))
    w = a.work
    default, bert = os.path.join(w, "default-gpu"), os.path.join(w, "bert-base")
    files = {
        "imdb": repeated(a.imdb, os.path.join(w, "imdb-big.parquet"), n["imdb"]),
        "sst2": repeated(a.sst2, os.path.join(w, "sst2-big.parquet"), n["sst2"]),
        "imdb_bert": repeated(a.imdb, os.path.join(w, "imdb-bert.parquet"), n["bert"]),
    }
    RESULTS["args"] = vars(a)
    if "env" in steps:
        step("env", a.out, env, device)
    if "models" in steps:
        step(
            "models",
            a.out,
            lambda: {
                "default": prep.default_gpu_bundle(default),
                "bert_base_tensors_filled": prep.reconstitute(a.bert_skeleton, bert),
            },
        )
    budgets = (65536,) if q else (65536, 262144)
    if "score" in steps:
        grid = {
            "default": {"imdb": files["imdb"], "sst2": files["sst2"]},
            "bert-base": {"imdb": files["imdb_bert"]},
        }
        step(
            "score",
            a.out,
            score_grid,
            {"default": default, "bert-base": bert},
            grid,
            device,
            prec,
            w,
            budgets,
        )
    if "split" in steps:
        step(
            "split_default_imdb",
            a.out,
            split,
            default,
            files["imdb"],
            device,
            prec,
            budgets[-1],
            n["imdb"] // 2,
        )
        step(
            "split_default_sst2",
            a.out,
            split,
            default,
            files["sst2"],
            device,
            prec,
            budgets[-1],
            n["sst2"] // 2,
        )
    tok = os.path.join(default, "tokenizer.json")
    if "pipeline" in steps:
        mini = hf_model("minilm", tok, os.path.join(w, "hf-minilm"))
        step(
            "pipeline_minilm_imdb",
            a.out,
            pipeline_baseline,
            mini,
            a.imdb,
            200 if q else 4000,
            device,
        )
        step(
            "pipeline_minilm_sst2",
            a.out,
            pipeline_baseline,
            mini,
            a.sst2,
            400 if q else 8000,
            device,
        )
    if "agreement" in steps:
        step(
            "agreement",
            a.out,
            agreement,
            default,
            {"imdb": a.imdb, "sst2": a.sst2},
            device,
            prec,
            w,
            100 if q else None,
        )
    if "train" in steps:
        big = hf_model("minilm" if q else "bert-base", tok, os.path.join(w, "hf-train"))
        if not q:
            step("pipeline_bert_base_imdb", a.out, pipeline_baseline, big, a.imdb, 2000, device)
        step("train_notebook", a.out, train_notebook, big, a.imdb, 4 if q else 60, device, w)
        step(
            "train_sentiscore",
            a.out,
            train_sentiscore,
            big,
            a.imdb,
            a.sst2,
            64 if q else 3072,
            32,
            w,
        )
    print("done", flush=True)


if __name__ == "__main__":
    main()
