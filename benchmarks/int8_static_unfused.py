"""Static int8 of the unfused ONNX export vs the shipped fused dynamic int8 (session 5, #3).

Exports MODEL_DIR with sentiscore's exporter (no fusion), runs ORT's quant_pre_process, then
quantize_static (QDQ, per-channel QInt8 weights, QUInt8 activations, MatMul only, MinMax
calibration on 400 SST-2 train sentences + 50 IMDB train reviews) and, for reference,
quantize_dynamic of the same unfused graph. Prints SST-2 dev accuracy and label agreement with
BUNDLE's fp32 graph, and writes WORK/dev_ids.npz for the speed passes:
    python benchmarks/ort_alone.py run WORK/static_MinMax.onnx WORK/dev_ids.npz 3
(Percentile/Entropy calibration fail in ORT 1.32's calibrator on variable-length batches.)

usage: python benchmarks/int8_static_unfused.py MODEL_DIR BUNDLE WORK
"""

import sys, os, numpy as np, pandas as pd
import onnxruntime as ort
from onnxruntime.quantization import (
    quantize_static,
    quantize_dynamic,
    QuantFormat,
    QuantType,
    CalibrationDataReader,
    CalibrationMethod,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_alone import micro_batches, feed

MODEL_DIR, BUNDLE, W = sys.argv[1:4]
os.makedirs(W, exist_ok=True)
from sentiscore.export.convert import export_onnx

raw = os.path.join(W, "raw", "model.onnx")
if not os.path.exists(raw):
    raw = export_onnx(MODEL_DIR, W, 17)
pre = os.path.join(W, "pre.onnx")
if not os.path.exists(pre):
    here = os.getcwd()
    os.chdir(W)  # quant_pre_process leaves temporary files in the working directory
    try:
        quant_pre_process(
            os.path.abspath(os.path.join(here, raw)),
            os.path.abspath(os.path.join(here, pre)),
            skip_optimization=False,
            skip_symbolic_shape=True,
        )
    finally:
        os.chdir(here)
from sentiscore.infer.scorer import Scorer

enc = Scorer.load(BUNDLE, device="cpu", precision="fp32").encoder
cal_texts = list(
    pd.read_parquet("../shared/data/sst2/train.parquet").sample(400, random_state=0).text
)
cal_texts += list(
    pd.read_parquet("../shared/data/imdb/train.parquet").sample(50, random_state=0).text
)
cal_ids = enc.encode(cal_texts)
names = {i.name for i in ort.InferenceSession(pre, providers=["CPUExecutionProvider"]).get_inputs()}


class R(CalibrationDataReader):
    def __init__(self):
        self.it = iter([feed(cal_ids, rows, names) for rows in micro_batches(cal_ids, 2048, 64)])

    def get_next(self):
        return next(self.it, None)


for method in ("MinMax",):
    out = os.path.join(W, f"static_{method}.onnx")
    if not os.path.exists(out):
        extra = {"CalibPercentile": 99.99} if method == "Percentile" else {}
        quantize_static(
            pre,
            out,
            R(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            op_types_to_quantize=["MatMul"],
            calibrate_method=getattr(CalibrationMethod, method),
            extra_options=extra,
        )
dyn = os.path.join(W, "dyn_unfused.onnx")
if not os.path.exists(dyn):
    quantize_dynamic(pre, dyn, per_channel=True, weight_type=QuantType.QInt8)
# accuracy on SST-2 dev
dev = pd.read_parquet("../shared/data/sst2/dev.parquet")
ids = enc.encode(list(dev.text))
np.savez(os.path.join(W, "dev_ids.npz"), *ids)


def preds(m):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    se = ort.InferenceSession(m, so, providers=["CPUExecutionProvider"])
    nm = {i.name for i in se.get_inputs()}
    out = np.zeros(len(ids), int)
    for rows in micro_batches(ids):
        out[rows] = se.run(None, feed(ids, rows, nm))[0].argmax(-1)
    return out


ref = preds(os.path.join(BUNDLE, "model.onnx"))
for m in [os.path.join(BUNDLE, "model.onnx"), os.path.join(BUNDLE, "model.int8.onnx"), dyn] + [
    os.path.join(W, f"static_{x}.onnx") for x in ("MinMax",)
]:
    p = preds(m)
    print(
        f"{m}: acc {(p == dev.label.values).mean():.4f} agree {(p == ref).mean():.4f} MB {os.path.getsize(m) / 2**20:.1f}",
        flush=True,
    )
