"""int8-static built with other NNCF settings, measured on short phrases and labeled rows.

For each setting: NNCF quantises MODEL's exported graph (with the [CLS]-tail rewrite, as
``sentiscore export`` does) on the first ``--calibration-rows`` validation texts, the graph goes
into a copy of BUNDLE in place of its int8-static file, and the copy is scored next to
BUNDLE's fp32 variant: P(positive) for the three texts of the cross-domain goal, accuracy and
label agreement on the validation rows and the titles, the largest |Δp| of 64 rows scored alone
vs in one call, and how far int8-static moves the log-odds from fp32 per band of token length
(mean and spread: a text whose fp32 margin is below the spread is left to chance).

Settings: base (export's: SmoothQuant, fast bias correction), nobc (no bias correction), nosq
(no SmoothQuant), nosq_nobc (neither).

usage: python benchmarks/default_model/static_settings.py MODEL BUNDLE --validation DEV.parquet
       --titles TITLE_DEV.parquet [--settings base,nobc,nosq,nosq_nobc] [--calibration-rows 1000]
       [--work DIR] [-o OUT]     (writes OUT.json and OUT.md)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys

import numpy as np
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
from peers import cpu_line, machine, write_results  # noqa: E402
from short_phrases import TEXTS  # noqa: E402

from sentiscore.export import cls_tail, convert, static_int8  # noqa: E402
from sentiscore.infer.evaluate import LabelResolver  # noqa: E402
from sentiscore.infer.scorer import Scorer  # noqa: E402
from sentiscore.io.writers import sha256_file  # noqa: E402

BANDS = ((0, 12), (12, 24), (24, 64), (64, 10**6))


def settings() -> dict:
    from nncf.quantization.advanced_parameters import AdvancedSmoothQuantParameters as Sq

    no_sq = {"smooth_quant_alphas": Sq(matmul=-1)}
    return {
        "base": {},
        "nobc": {"disable_bias_correction": True},
        "nosq": no_sq,
        "nosq_nobc": no_sq | {"disable_bias_correction": True},
    }


def labeled(path: str, labels: list[str], encoder) -> tuple[list, np.ndarray]:
    t = pq.read_table(path, columns=["text", "label"])
    gold = LabelResolver(labels)
    return encoder.encode(t["text"].to_pylist()), np.array(
        [gold(v) for v in t["label"].to_pylist()]
    )


def build(source: str, bundle: str, out: str, calibration: list, advanced: dict) -> None:
    import onnx
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    nncf = static_int8._nncf()
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(bundle, out)
    model = onnx.load(source)
    items = static_int8._items(model, calibration)
    quantised = nncf.quantize(
        model,
        nncf.Dataset(items),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
        advanced_parameters=AdvancedQuantizationParameters(**advanced),
    )
    onnx.save(quantised, f"{out}/model.int8-static.onnx")
    with open(f"{out}/sentiscore.json", encoding="utf-8") as f:
        manifest = json.load(f)
    manifest["files"]["model.int8-static.onnx"] = sha256_file(f"{out}/model.int8-static.onnx")
    with open(f"{out}/sentiscore.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)


def log_odds(p: np.ndarray, pos: int) -> np.ndarray:
    return np.log(p[:, pos]) - np.log(p[:, 1 - pos])


def measure(name: str, path: str, ref: dict, sets: dict) -> dict:
    s = Scorer.load(path, device="cpu", precision="int8-static")
    pos = s.labels.index("positive")
    row = {
        "setting": name,
        "texts": [round(float(x), 3) for x in s.probabilities(list(TEXTS))[:, pos]],
    }
    for key, (ids, gold) in sets.items():
        p = s.run_ids(ids)
        row[f"{key}_accuracy"] = round(100 * float((p.argmax(1) == gold).mean()), 2)
        row[f"{key}_agreement"] = round(100 * float((p.argmax(1) == ref[key].argmax(1)).mean()), 2)
        shift, lengths = log_odds(p, pos) - log_odds(ref[key], pos), np.array([len(x) for x in ids])
        row[f"{key}_shift_by_tokens"] = {
            (f"{lo + 1}-{hi}" if hi < BANDS[-1][1] else f"{lo + 1}+"): [
                round(float(shift[m].mean()), 3),
                round(float(shift[m].std()), 3),
            ]
            for lo, hi in BANDS
            if (m := (lengths > lo) & (lengths <= hi)).sum() >= 20
        }
    ids = sets["validation"][0][:64]
    alone = np.concatenate([s.run_ids([x]) for x in ids])
    row["row_invariance_max_dp"] = float(np.abs(alone - s.run_ids(ids)).max())
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="the HF model directory BUNDLE was exported from")
    ap.add_argument("bundle", help="a bundle with an fp32 variant")
    ap.add_argument("--validation", required=True, help="labeled rows (text, label)")
    ap.add_argument("--titles", required=True, help="labeled short phrases (text, label)")
    ap.add_argument("--settings", default="base,nobc,nosq,nosq_nobc")
    ap.add_argument("--calibration-rows", type=int, default=1000)
    ap.add_argument("--work", default="benchmarks/_work/static_settings")
    ap.add_argument("-o", "--output")
    args = ap.parse_args()
    fp32 = Scorer.load(args.bundle, device="cpu", precision="fp32")
    sets = {
        "validation": labeled(args.validation, fp32.labels, fp32.encoder),
        "titles": labeled(args.titles, fp32.labels, fp32.encoder),
    }
    ref = {key: fp32.run_ids(ids) for key, (ids, _) in sets.items()}
    pos = fp32.labels.index("positive")
    rows = [
        {
            "setting": "fp32",
            "texts": [round(float(x), 3) for x in fp32.probabilities(list(TEXTS))[:, pos]],
        }
    ]
    rows[0] |= {
        f"{k}_accuracy": round(100 * float((ref[k].argmax(1) == g).mean()), 2)
        for k, (_, g) in sets.items()
    }
    os.makedirs(args.work, exist_ok=True)
    source = os.path.join(args.work, "static_source.onnx")
    cls_tail.slice_cls_tail(convert.export_onnx(args.model, args.work, 17, "cls"), source)
    calibration = sets["validation"][0][: args.calibration_rows]
    for name in args.settings.split(","):
        out = os.path.join(args.work, name)
        build(source, args.bundle, out, calibration, settings()[name])
        rows.append(measure(name, out, ref, sets))
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "rows": rows,
    }
    if args.output:
        write_results(args.output, report, markdown(report))


def markdown(report: dict) -> str:
    lines = [
        "# int8-static with other NNCF settings: short phrases and labeled rows",
        "",
        f"Date {report['date']}. Command: `{report['command']}`.",
        f"CPU: {cpu_line(report['machine']['cpu'])}.",
        "",
        "P(positive) after the bundle's calibration for: " + "; ".join(f'"{t}"' for t in TEXTS),
        "(right answers: low, low, high). Shift: int8-static's log-odds minus fp32's, mean and",
        "spread, per band of token length, on the validation rows.",
        "",
        "| setting | the three texts | validation | agreement | titles | agreement | row dp |"
        " shift by tokens |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["rows"]:
        shift = "; ".join(
            f"{band}: {m:+.2f} ± {sd:.2f}"
            for band, (m, sd) in r.get("validation_shift_by_tokens", {}).items()
        )
        dp = r.get("row_invariance_max_dp")
        lines.append(
            f"| {r['setting']} | {', '.join(f'{p:.2f}' for p in r['texts'])} "
            f"| {r['validation_accuracy']:.2f} % | {r.get('validation_agreement', 100):.2f} % "
            f"| {r['titles_accuracy']:.2f} % | {r.get('titles_agreement', 100):.2f} % "
            f"| {'' if dp is None else f'{dp:.1e}'} | {shift} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
