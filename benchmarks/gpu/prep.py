"""Model files for the GPU benchmark, made where it runs (a GPU machine takes at most 64 MiB
per transfer, and a bert-base fp16 file alone is 220 MB).

- ``dequantise``: the default bundle ships only its calibrated QDQ int8 graph; this folds
  every weight's DequantizeLinear into a float initializer, drops the activation
  Quantize/Dequantize pairs and folds NNCF's smooth-quant scales into the next MatMul's
  weights. What is left is the fp32 graph of the shipped weights (their int8 rounding kept),
  which ``gpu_bundle`` fuses for CUDA and converts to fp16 with the exporter's own steps.
- ``skeleton`` / ``reconstitute``: a bundle with its large weight tensors emptied (a few
  hundred KB), and the same bundle refilled with seeded N(0, 0.02) values: for speed only.

Usage: python benchmarks/gpu/prep.py default OUT_DIR
       python benchmarks/gpu/prep.py skeleton BUNDLE OUT_DIR
       python benchmarks/gpu/prep.py reconstitute SKELETON OUT_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np

RANDOM_MARK = "sentiscore-bench:random"
MIN_RANDOM_ELEMENTS = 4096


def _np(init):
    from onnx import numpy_helper

    return numpy_helper.to_array(init)


def dequantise(src: str, dst: str) -> dict:
    """fp32 ONNX graph of a QDQ graph's weights; returns counts of what was folded."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    rename: dict[str, str] = {}
    drop, new_inits, weights = set(), {}, 0
    nodes = list(g.node)  # held, so that id() of each node stays valid
    producer = {o: n for n in nodes for o in n.output}
    for n in nodes:
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            q = _np(inits[n.input[0]]).astype(np.float32)
            scale = _np(inits[n.input[1]]).astype(np.float32)
            zp = _np(inits[n.input[2]]).astype(np.float32) if len(n.input) > 2 else 0.0
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            if np.ndim(scale) == 1 and scale.size > 1:
                shape = [1] * q.ndim
                shape[axis] = -1
                scale, zp = scale.reshape(shape), np.reshape(zp, shape) if np.ndim(zp) else zp
            new_inits[n.output[0]] = (q - zp) * scale
            drop.add(id(n))
            weights += 1
        elif n.op_type == "QuantizeLinear":
            drop.add(id(n))
    for n in nodes:  # activation pairs: DQ(Q(x)) -> x
        if n.op_type == "DequantizeLinear" and id(n) not in drop:
            rename[n.output[0]] = producer[n.input[0]].input[0]
            drop.add(id(n))
    kept = [onnx.NodeProto.FromString(n.SerializeToString()) for n in nodes if id(n) not in drop]
    for n in kept:
        for i, name in enumerate(n.input):
            n.input[i] = rename.get(name, name)
    for o in g.output:
        o.name = rename.get(o.name, o.name)
    smooth = _fold_smooth_quant(kept, new_inits, inits)
    kept = [n for n in kept if id(n) not in smooth]
    used = {x for n in kept for x in n.input}
    del g.node[:]
    g.node.extend(kept)
    keep_inits = [i for i in g.initializer if i.name in used and i.name not in new_inits]
    del g.initializer[:]
    g.initializer.extend(keep_inits)
    g.initializer.extend(
        numpy_helper.from_array(v.astype(np.float32), k) for k, v in new_inits.items() if k in used
    )
    onnx.save(model, dst)
    return {"weights_dequantised": weights, "smooth_quant_folded": len(smooth)}


def _fold_smooth_quant(nodes, new_inits: dict, inits: dict) -> set:
    """NNCF's smooth quant multiplies an activation by s and stores W / s: fold s back into
    every consuming MatMul's weight and drop the Mul (so ORT's fusions see a plain graph)."""
    folded = set()
    for n in nodes:
        if n.op_type != "Mul" or "smooth_quant" not in n.output[0]:
            continue
        scale_name = next((x for x in n.input if x in inits), None)
        if scale_name is None:
            continue
        act = next(x for x in n.input if x != scale_name)
        s = _np(inits[scale_name]).astype(np.float32).reshape(-1)
        users = [m for m in nodes if n.output[0] in m.input]
        if not users or any(m.op_type != "MatMul" or m.input[1] not in new_inits for m in users):
            continue
        for m in users:
            new_inits[m.input[1]] = new_inits[m.input[1]] * s[:, None]
            m.input[0] = act
        folded.add(id(n))
    return folded


def gpu_bundle(src_bundle: str, fp32_graph: str, out_dir: str, note: str) -> dict:
    """A bundle with fp32 and fp16 variants of ``fp32_graph``, fused the way export fuses its
    fp16 source (SkipLayerNormalization kept: fast on CUDA)."""
    from sentiscore.export.convert import convert_fp16, fuse

    meta = json.load(open(os.path.join(src_bundle, "sentiscore.json")))
    os.makedirs(out_dir, exist_ok=True)
    fused = os.path.join(out_dir, "model.onnx")
    ops = fuse(fp32_graph, fused, "bert", 12, _hidden(fp32_graph), "O2", skip_layer_norm=True)
    convert_fp16(fused, os.path.join(out_dir, "model.fp16.onnx"))
    shutil.copy(os.path.join(src_bundle, "tokenizer.json"), out_dir)
    meta["variants"] = {
        "fp32": {"file": "model.onnx", "precision": "fp32", "status": "ok", "row_invariant": True},
        "fp16": {"file": "model.fp16.onnx", "precision": "fp16", "status": "ok"},
    }
    meta["fused_ops"] = ops
    meta["source_model"] = note
    _write_manifest(meta, out_dir)
    return ops


def _hidden(path: str) -> int:
    import onnx

    for i in onnx.load(path, load_external_data=False).graph.initializer:
        if "word_embeddings" in i.name:
            return int(i.dims[1])
    raise SystemExit(f"{path}: no word_embeddings initializer")


def _write_manifest(meta: dict, out_dir: str) -> None:
    from sentiscore.io.writers import sha256_file

    files = [v["file"] for v in meta["variants"].values()] + ["tokenizer.json"]
    meta["files"] = {f: sha256_file(os.path.join(out_dir, f)) for f in sorted(set(files))}
    with open(os.path.join(out_dir, "sentiscore.json"), "w") as f:
        json.dump(meta, f, indent=2)


def skeleton(bundle: str, out_dir: str) -> int:
    """Copy of ``bundle`` whose float tensors of >= MIN_RANDOM_ELEMENTS values are emptied."""
    import onnx

    os.makedirs(out_dir, exist_ok=True)
    meta = json.load(open(os.path.join(bundle, "sentiscore.json")))
    emptied = 0
    for v in meta["variants"].values():
        model = onnx.load(os.path.join(bundle, v["file"]))
        for init in model.graph.initializer:
            big = int(np.prod(init.dims)) >= MIN_RANDOM_ELEMENTS
            if big and init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
                init.ClearField("raw_data")
                del init.float_data[:]
                del init.int32_data[:]
                init.doc_string = RANDOM_MARK
                emptied += 1
        onnx.save(model, os.path.join(out_dir, v["file"]))
    shutil.copy(os.path.join(bundle, "tokenizer.json"), out_dir)
    meta.pop("files", None)
    with open(os.path.join(out_dir, "sentiscore.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return emptied


def reconstitute(skel: str, out_dir: str, seed: int = 0) -> int:
    """Refill a skeleton's emptied tensors with seeded N(0, 0.02) values; a loadable bundle."""
    import onnx
    from onnx import helper

    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    meta = json.load(open(os.path.join(skel, "sentiscore.json")))
    filled = 0
    for v in meta["variants"].values():
        model = onnx.load(os.path.join(skel, v["file"]))
        for init in model.graph.initializer:
            if init.doc_string != RANDOM_MARK:
                continue
            dtype = helper.tensor_dtype_to_np_dtype(init.data_type)
            init.raw_data = rng.normal(0, 0.02, tuple(init.dims)).astype(dtype).tobytes()
            init.doc_string = ""
            filled += 1
        onnx.save(model, os.path.join(out_dir, v["file"]))
    shutil.copy(os.path.join(skel, "tokenizer.json"), out_dir)
    _write_manifest(meta, out_dir)
    return filled


def default_gpu_bundle(out_dir: str) -> dict:
    from sentiscore.infer.bundle import default_bundle_dir

    src = default_bundle_dir()
    meta = json.load(open(os.path.join(src, "sentiscore.json")))
    graph = os.path.join(out_dir + ".fp32-unfused.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(graph)), exist_ok=True)
    folded = dequantise(os.path.join(src, meta["variants"]["int8-static"]["file"]), graph)
    note = f"sentiscore default {meta['version']}, int8-static weights dequantised"
    folded["fused_ops"] = gpu_bundle(src, graph, out_dir, note)
    os.remove(graph)
    return folded


if __name__ == "__main__":
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "default":
        print(json.dumps(default_gpu_bundle(args[0])))
    elif verb == "skeleton":
        print(skeleton(args[0], args[1]), "tensors emptied")
    elif verb == "reconstitute":
        print(reconstitute(args[0], args[1]), "tensors filled")
    else:
        raise SystemExit(__doc__)
