"""Static int8: a QDQ ONNX graph with calibrated, fixed activation scales, built with NNCF.

Every activation scale is fixed at export from calibration rows, so a row's scores cannot
depend on the rows batched with it (unlike ONNX Runtime's stock dynamic int8), and the bundle
stays ONNX: OpenVINO runs it with integer kernels, ONNX Runtime runs it too. NNCF quantises the
graph as exported (before ORT's fusions, which NNCF cannot read), with the [CLS]-tail rewrite
applied first when asked for.

When the quantised graph fails its gate, ``quantize_with_accuracy_control`` (without
SmoothQuant, whose scaling NNCF does not undo for a layer it puts back) keeps the most
sensitive layers at fp32 (NNCF ranks them on the validation rows) until the accuracy drop is
within ``max_drop``, or the agreement with fp32 within ``1 - min_agreement`` when there are no
labels; ``kept_layers`` lists which layers it kept. Gating the result is ``parity``'s job,
choosing to build it ``run``'s.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os

import numpy as np

from sentiscore.errors import ExportError, first_line, require

log = logging.getLogger(__name__)
WEIGHTED_OPS = ("MatMul", "Gemm")


def _nncf():
    """NNCF, with its log records sent through ours (it writes them to stdout by default) and
    without its usage telemetry (NNCF_CI is the switch NNCF reads; set it empty to allow)."""
    os.environ.setdefault("NNCF_CI", "1")
    nncf = require("nncf", "export", "Static int8 (--precision int8-static)")
    theirs = logging.getLogger("nncf")
    theirs.handlers[:] = []
    theirs.propagate = True
    return nncf


def _items(model, ids: list[np.ndarray]) -> list[dict]:
    """One feed per row, unpadded, so padding tokens never enter the activation ranges."""
    names = {i.name for i in model.graph.input}
    out = []
    for x in ids:
        row = np.asarray(x, dtype=np.int64)[None, :]
        feeds = {"input_ids": row, "attention_mask": np.ones_like(row)}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(row)
        out.append(feeds)
    return out


def _validation_fn(targets: np.ndarray):
    """NNCF's validation function: accuracy of the model on the rows against ``targets``
    (gold labels, or the fp32 graph's labels when there are none), and the per-row hits."""

    last: dict = {}  # NNCF passes the ModelProto, once per row when it ranks layers

    def validate(model, items) -> tuple[float, list[float]]:
        if last.get("model") is not model:  # the reference keeps ``model`` alive
            import onnxruntime as ort

            last["model"] = model
            last["session"] = ort.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        session = last["session"]
        output = session.get_outputs()[0].name
        hits = []
        for i, feeds in items:
            logits = session.run([output], feeds)[0]
            hits.append(float(int(np.argmax(logits[0])) == int(targets[i])))
        return (float(np.mean(hits)) if hits else 0.0), hits

    return validate


def weighted_layers(model) -> tuple[list[str], list[str]]:
    """(quantised, kept in float) MatMul/Gemm nodes with a constant weight input."""
    consts = {t.name for t in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    consts |= {o for o, n in producers.items() if n.op_type == "Constant"}
    quantised, kept = [], []
    for node in model.graph.node:
        if node.op_type not in WEIGHTED_OPS:
            continue
        for name in node.input[1:2]:
            src = producers.get(name)
            if src is not None and src.op_type == "DequantizeLinear":
                quantised.append(node.name)
            elif name in consts or (src is not None and src.op_type in ("Transpose", "Reshape")):
                kept.append(node.name)
    return quantised, kept


def _nncf_call(expected: str, fix: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, with NNCF's failures as one ExportError line."""
    shown = io.StringIO()  # NNCF draws progress bars on stdout; they go to the debug log
    try:
        with contextlib.redirect_stdout(shown):
            return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - NNCF raises many types
        found = first_line(exc, 200)
        raise ExportError(expected, found, fix) from exc
    finally:
        if shown.getvalue().strip():
            log.debug("NNCF: %s", shown.getvalue().strip())


def _kept(model, keep: tuple) -> list[str]:
    """The MatMul/Gemm nodes of ``model`` matching a ``keep`` pattern."""
    from sentiscore.export.convert import matching_nodes

    weighted = [n.name for n in model.graph.node if n.op_type in WEIGHTED_OPS]
    return matching_nodes(weighted, keep, "--static-keep")


def _ignored(nncf, names: list[str]) -> dict:
    """NNCF's ``ignored_scope`` argument for the nodes ``names``."""
    return {"ignored_scope": nncf.IgnoredScope(names=names)} if names else {}


def quantize_static(src: str, dst: str, calibration: list[np.ndarray], keep: tuple = ()) -> dict:
    """Quantise ``src`` into ``dst`` with scales calibrated on ``calibration`` token-id rows
    (fed one at a time, so padding never enters a range), leaving the MatMul/Gemm nodes that
    match a ``keep`` pattern in fp32."""
    import onnx

    nncf = _nncf()
    model = onnx.load(src)
    items = _items(model, calibration)
    kept = _kept(model, keep)
    quantised = _nncf_call(
        "NNCF to quantise the exported graph (static int8)",
        "export without it: --precision fp32,int8",
        nncf.quantize,
        model,
        nncf.Dataset(items),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
        **_ignored(nncf, kept),
    )
    onnx.save(quantised, dst)
    return _details(quantised, len(items), kept)


def restore_accuracy(
    src: str,
    dst: str,
    calibration: list[np.ndarray],
    validation: list[np.ndarray],
    targets: np.ndarray,
    max_drop: float,
    keep: tuple = (),
) -> dict:
    """Quantise ``src`` keeping the most sensitive layers in float until accuracy against
    ``targets`` drops by at most ``max_drop`` (a fraction), and those matching ``keep`` from
    the start; write ``dst``."""
    import onnx

    nncf = _nncf()
    from nncf.quantization.advanced_parameters import (
        AdvancedAccuracyRestorerParameters,
        AdvancedQuantizationParameters,
        AdvancedSmoothQuantParameters,
    )

    # Without SmoothQuant: a layer NNCF puts back in float keeps SmoothQuant's scaling of its
    # input but not the matching weights (ONNX backend), which breaks the graph it returns.
    plain = AdvancedQuantizationParameters(
        smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=-1)
    )
    model = onnx.load(src)
    calib = _items(model, calibration)
    val = list(enumerate(_items(model, validation)))
    restorer = AdvancedAccuracyRestorerParameters(num_ranking_workers=1)
    quantised = _nncf_call(
        "NNCF's accuracy control to quantise the graph (static int8)",
        "raise --max-drop, or export without it: --precision fp32,int8",
        nncf.quantize_with_accuracy_control,
        model,
        nncf.Dataset(calib),
        nncf.Dataset(val, lambda item: item[1]),
        _validation_fn(targets),
        max_drop=max_drop,
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(calib),
        advanced_quantization_parameters=plain,
        advanced_accuracy_restorer_parameters=restorer,
        **_ignored(nncf, _kept(model, keep)),
    )
    onnx.save(quantised, dst)
    _, kept = weighted_layers(quantised)
    return _details(quantised, len(calib), kept) | {"accuracy_control": True}


def _details(model, rows: int, kept: list[str]) -> dict:
    quantised, _ = weighted_layers(model)
    return {
        "activation_quant": "static",
        "row_invariant": True,
        "calibration_rows": rows,
        "quantized_layers": len(quantised),
        "kept_layers": kept,
        "quantizer": "nncf",
    }
