"""Which ONNX opset export should default to: export one model at each opset with the same
options and validation data, then compare what export's gate reports (status, agreement and
accuracy of each variant against the source model) and what ``sentiscore bench`` measures
(rows/s of each variant on this CPU) in one run.

usage: python benchmarks/opset.py MODEL DATA.parquet [--opsets 17 18] [--samples 872]
       [--rows 1000] [--passes 2] [--out benchmarks/results/opset]

MODEL: a Hugging Face model directory or training run; DATA: labeled validation rows
(``text``, ``label``), used for the gate and timed by bench.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date

from sentiscore.infer.cpu import cpu_info

SENTISCORE = [sys.executable, "-m", "sentiscore"]


def _export(model: str, data: str, opset: int, work: str, args) -> tuple[str, dict]:
    bundle = os.path.join(work, f"opset{opset}")
    cmd = [*SENTISCORE, "export", model, "-o", bundle, "--opset", str(opset), "--force"]
    cmd += ["--validate-with", data, "--label-column", "label", "--samples", str(args.samples)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(bundle, "export_report.json"), encoding="utf-8") as f:
        return bundle, json.load(f)


def _bench(bundle: str, data: str, rows: int) -> dict:
    out = f"{bundle}-bench"
    cmd = [*SENTISCORE, "bench", data, "-m", bundle, "--rows", str(rows), "-o", out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "bench.json"), encoding="utf-8") as f:
        return {v["precision"]: v for v in json.load(f)["variants"]}


def _measure(model: str, data: str, work: str, args) -> list[dict]:
    """Export at every opset, then bench the bundles in turns (``--passes`` times each),
    keeping each variant's best rows/s, so that a slow moment does not favour one opset."""
    exported = [(o, *_export(model, data, o, work, args)) for o in args.opsets]
    best: dict = {}
    for _ in range(args.passes):
        for opset, bundle, _report in exported:
            for name, v in _bench(bundle, data, args.rows).items():
                key = (opset, name)
                if key not in best or v["rows_per_s"] > best[key]["rows_per_s"]:
                    best[key] = v
    results = []
    for opset, _bundle, report in exported:
        variants = []
        for v in report["variants"]:
            timed = best.get((opset, v["precision"]), {})
            variants.append(
                {
                    "precision": v["precision"],
                    "status": v["status"],
                    "reasons": v["reasons"],
                    "agreement": v["agreement"],
                    "accuracy": v.get("accuracy"),
                    "max_abs_delta": v["max_abs_delta"],
                    "rows_per_s": timed.get("rows_per_s"),
                    "row_invariant": timed.get("row_invariant"),
                }
            )
        results.append({"opset": opset, "fused_ops": report["fused_ops"], "variants": variants})
    return results


def _table(results: list[dict]) -> str:
    base = {v["precision"]: v["rows_per_s"] for v in results[0]["variants"]}
    lines = ["| opset | variant | status | agreement | accuracy | rows/s | vs first opset |",
             "|---|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        for v in r["variants"]:
            speed, ref = v["rows_per_s"], base.get(v["precision"])
            ratio = f"{speed / ref:.2f}x" if speed and ref else "-"
            acc = f"{100 * v['accuracy']:.2f} %" if v["accuracy"] is not None else "-"
            lines.append(
                f"| {r['opset']} | {v['precision']} | {v['status']} | {v['agreement']:.4f} | "
                f"{acc} | {speed if speed is not None else '-'} | {ratio} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--opsets", type=int, nargs="+", default=[17, 18])
    ap.add_argument("--samples", type=int, default=872)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--passes", type=int, default=2, help="bench passes per bundle, in turns")
    ap.add_argument("--out", default="benchmarks/results/opset")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        results = _measure(args.model, args.data, work, args)
    command = "python benchmarks/opset.py " + " ".join(sys.argv[1:])
    out = {"date": date.today().isoformat(), "command": command, "cpu": cpu_info(),
           "results": results}  # fmt: skip
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(f"{args.out}.json", "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
    with open(f"{args.out}.md", "w", encoding="utf-8") as f:
        f.write(f"# ONNX opset at export\n\n`{command}`, {out['date']}, CPU: "
                f"{out['cpu']['model']}, {out['cpu']['cores']} cores ({', '.join(out['cpu']['features'])})\n\n")  # fmt: skip
        f.write(_table(results) + "\n")
    print(_table(results))


if __name__ == "__main__":
    main()
