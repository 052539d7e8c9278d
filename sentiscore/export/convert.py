"""ONNX conversion steps: optimum export, ORT transformer fusions, dynamic int8, fp16.

Each function takes a file and writes a file; which variants to build, how to check them and
what goes into the bundle are ``run``'s and ``parity``'s business.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil

from sentiscore.errors import ExportError, first_line, require

log = logging.getLogger(__name__)
FUSED_OPS = (
    "Attention",
    "MultiHeadAttention",
    "LayerNormalization",
    "SkipLayerNormalization",
    "EmbedLayerNormalization",
    "BiasGelu",
    "Gelu",
    "FastGelu",
    "SkipSimplifiedLayerNormalization",
)
# ORT's fusion code knows BERT-shaped graphs; DistilBERT and RoBERTa export to the same shapes.
ORT_MODEL_TYPE = {
    "bert": "bert",
    "distilbert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "camembert": "bert",
    "electra": "bert",
    "albert": "bert",
    "deberta-v2": "bert",
    "mpnet": "bert",
}


def export_onnx(model: str, work_dir: str, opset: int, pooling: str = "cls") -> str:
    """Export ``model`` (dir or hub id) with optimum (text-classification, dynamic axes).

    A mean-pooled classifier is loaded with sentiscore's class first (optimum would load it
    as a [CLS] model from the hub-style mapping)."""
    require("optimum.exporters.onnx", "export", "ONNX export")
    from optimum.exporters.onnx import main_export, onnx_export_from_model

    raw_dir = os.path.join(work_dir, "raw")
    common = {"task": "text-classification", "opset": opset, "do_validation": False}
    try:
        if pooling == "mean":
            from sentiscore.modeling.pooling import load_classifier

            onnx_export_from_model(
                _optimum_ready(load_classifier(model, "mean")), raw_dir, **common
            )
        else:
            main_export(model, raw_dir, library_name="transformers", framework="pt", **common)
    except (ValueError, KeyError, NotImplementedError) as exc:
        first = first_line(exc)
        raise ExportError(
            "A BERT-family sequence classifier that optimum can export",
            first,
            "use a supported encoder (BERT, DistilBERT, RoBERTa, ...)",
        ) from exc
    path = os.path.join(raw_dir, "model.onnx")
    if not os.path.exists(path):
        raise ExportError(
            "optimum to write model.onnx",
            f"nothing at {path}",
            "re-run with --verbose and check the model",
        )
    return path


def _optimum_ready(model):
    """optimum infers the library from the class's module name (``transformers...``); our
    mean-pooled class is a transformers model defined in sentiscore, so export it through a
    subclass that says so."""
    cls = type(model)
    model.__class__ = type(cls.__name__, (cls,), {"__module__": "transformers.sentiscore"})
    return model.eval()


def fuse(
    raw_path: str,
    out_path: str,
    model_type: str,
    num_heads: int,
    hidden_size: int,
    level: str,
    skip_layer_norm: bool = True,
    gelu_approximation: bool | None = None,
) -> dict:
    """Apply ORT transformer fusions (O2/O3) and return counts of fused operators.

    skip_layer_norm: fuse residual add + layer norm into SkipLayerNormalization (fast on CUDA;
    on CPU ORT's Add + LayerNormalization kernels are ~4x faster, so CPU graphs leave it out).
    gelu_approximation: GELU as FastGelu (tanh); default: only at O3."""
    if level == "O1":
        shutil.copyfile(raw_path, out_path)
        return {}
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    ort_type = ORT_MODEL_TYPE.get(model_type, "bert")
    options = FusionOptions(ort_type)
    options.enable_skip_layer_norm = skip_layer_norm
    options.enable_gelu_approximation = (
        level == "O3" if gelu_approximation is None else gelu_approximation
    )
    optimized = optimize_model(
        raw_path,
        model_type=ort_type,
        num_heads=num_heads,
        hidden_size=hidden_size,
        optimization_options=options,
        opt_level=0,
        use_gpu=False,
    )
    optimized.save_model_to_file(out_path)
    stats = optimized.get_fused_operator_statistics()
    return {k: int(v) for k, v in stats.items() if v and k in FUSED_OPS}


def matching_nodes(names, patterns: tuple, option: str) -> list[str]:
    """The node names that match any fnmatch pattern of ``option`` (warned when none does)."""
    found = sorted({n for n in names for pat in patterns if fnmatch.fnmatch(n, pat)})
    if patterns and not found:
        log.warning("%s %s matched no node", option, list(patterns))
    return found


def quantize_int8(
    src: str, dst: str, per_channel: bool, weight_type: str, reduce_range: bool, exclude: tuple
) -> dict:
    """Dynamic int8 (weights int8, activations quantised at run time) for the CPU provider."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(src, load_external_data=False).graph.node]
    excluded = matching_nodes(names, exclude, "--exclude-nodes")
    quantize_dynamic(
        src,
        dst,
        per_channel=per_channel,
        reduce_range=reduce_range,
        weight_type=QuantType.QInt8 if weight_type == "qint8" else QuantType.QUInt8,
        nodes_to_exclude=excluded or None,
        # Needed on ORT-fused graphs: shape inference cannot type the com.microsoft ops.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return {
        "per_channel": per_channel,
        "weight_type": weight_type,
        "reduce_range": reduce_range,
        "excluded_nodes": excluded,
    }


def convert_fp16(src: str, dst: str) -> dict:
    """fp16 weights and activations for CUDA; int64 inputs and fp32 logits kept, and the
    numerically sensitive ops (softmax-like reductions, LayerNorm statistics) left in fp32."""
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = OnnxModel(onnx.load(src))
    keep = [
        "SimplifiedLayerNormalization",
        "SkipSimplifiedLayerNormalization",
        "ReduceMean",
        "Pow",
        "Sqrt",
        "Softmax",
    ]
    present = {n.op_type for n in model.model.graph.node}
    model.convert_float_to_float16(
        keep_io_types=True, op_block_list=[op for op in keep if op in present]
    )
    model.save_model_to_file(dst)
    return {"keep_io_types": True, "fp32_ops": [op for op in keep if op in present]}
