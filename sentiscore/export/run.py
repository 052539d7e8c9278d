"""export_model(): HF classifier -> sentiscore bundle (ONNX variants + tokenizer.json +
sentiscore.json), gated by a parity report.

Orchestrates ``convert`` (export, fusion, int8, fp16), ``static_int8`` (calibrated QDQ int8,
with accuracy control when its gate fails), ``parity`` (comparison and gates) and ``report``,
fits the calibration temperature, writes ``export_report.json`` and the bundle manifest with
the sha256 of every file. Loading bundles is ``infer.bundle``'s job.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace

import numpy as np

from sentiscore import __version__
from sentiscore.errors import ExportError, ParityError, first_line, require
from sentiscore.export import cls_tail, convert, parity, rowquant, static_int8
from sentiscore.export.config import ExportConfig
from sentiscore.export.report import ExportReport, calibrate_report
from sentiscore.infer.manifest import BUNDLE_FORMAT, FORMAT_VERSION, MANIFEST, used_files
from sentiscore.infer.tokenize import TextEncoder, copy_tokenizer
from sentiscore.io.writers import sha256_file
from sentiscore.modeling import PREDICTIONS, TRAIN_META
from sentiscore.modeling.hub import offline_mode
from sentiscore.modeling.pooling import load_classifier, resolve_pooling

log = logging.getLogger(__name__)
SUPPORTED = tuple(convert.ORT_MODEL_TYPE)
FILES = {
    "fp32": "model.onnx",
    "int8": "model.int8.onnx",
    "int8-static": "model.int8-static.onnx",
    "fp16": "model.fp16.onnx",
}


def model_dir_of(model: str) -> str:
    """A training run directory (``sentiscore train -o RUN``) stands for its ``RUN/model``."""
    inner = os.path.join(str(model), "model")
    if (
        os.path.isdir(model)
        and not os.path.exists(os.path.join(model, "config.json"))
        and os.path.exists(os.path.join(inner, "config.json"))
    ):
        log.info("%s is a training run: exporting its model, %s", model, inner)
        return inner
    return model


def _run_validation(given: str, model: str, cfg: ExportConfig) -> ExportConfig:
    """A training run (``given``, whose ``model`` dir is exported) without ``validate_with`` is
    gated on its own held-out rows (``RUN/predictions.parquet``: text and gold label), so the
    accuracy gates apply."""
    held_out = os.path.join(str(given), PREDICTIONS)
    if cfg.validate_with or model == given or not os.path.exists(held_out):
        return cfg
    log.info("validating on the run's held-out rows, %s", held_out)
    return replace(cfg, validate_with=held_out, text_column="text", label_column="label")


def _prepare_out(out_dir: str) -> None:
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as exc:
        raise ExportError(
            "A writable output directory",
            f"'{out_dir}': {exc.strerror or exc}",
            "choose another -o path or fix its permissions",
        ) from exc


def _load_source(model: str):
    if os.path.isdir(model) and not os.path.exists(os.path.join(model, "config.json")):
        raise ExportError(
            "A model directory with config.json, or a training run directory with model/",
            f"neither in '{model}'",
            "pass the directory that 'sentiscore train' or save_pretrained wrote",
        )
    offline = None if os.path.isdir(model) else offline_mode()
    transformers = require("transformers", "export", "Export")
    try:
        config = transformers.AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise ExportError(
            f"A Hugging Face model directory or hub id at '{model}'",
            f"the hub is not reachable ({offline}) and it is not in the local cache"
            if offline
            else first_line(exc, 200),
            "check the path (a model directory with config.json, or a training run directory)",
        ) from exc
    if config.model_type not in SUPPORTED:
        raise ExportError(
            f"A supported encoder ({', '.join(SUPPORTED)})",
            f"model_type '{config.model_type}' in {model}",
            "export a BERT-family sequence classifier",
        )
    try:
        tok = transformers.AutoTokenizer.from_pretrained(model, use_fast=True)
    except (OSError, ValueError, TypeError) as exc:
        raise ExportError(
            f"A tokenizer saved with the model at '{model}'",
            first_line(exc, 200),
            "save the tokenizer next to the model (tokenizer.save_pretrained)",
        ) from exc
    if not getattr(tok, "is_fast", False):
        raise ExportError(
            "A fast tokenizer (tokenizer.json)",
            f"{type(tok).__name__}",
            "convert the tokenizer to a fast one and save it",
        )
    return config, tok


def _policy(model: str, cfg: ExportConfig, config, tok) -> dict:
    meta = {}
    path = os.path.join(model, TRAIN_META)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    cap = min(
        512,
        int(getattr(config, "max_position_embeddings", 512) or 512),
        int(tok.model_max_length if tok.model_max_length < 10**6 else 512),
    )
    return {
        "max_length": cfg.max_length or meta.get("max_length") or cap,
        "truncation": cfg.truncation or meta.get("truncation", "head"),
        "head_fraction": cfg.head_fraction or meta.get("head_fraction", 0.25),
        "train": meta,
    }


def _write_tokenizer(tok, out_dir: str):
    backend = copy_tokenizer(tok.backend_tokenizer)
    backend.no_padding()
    backend.no_truncation()
    backend.save(os.path.join(out_dir, "tokenizer.json"))
    norm = json.loads(backend.to_str()).get("normalizer") or {}
    return backend, bool(norm.get("lowercase", False))


def _build(raw: str, out_dir: str, cfg: ExportConfig, config) -> tuple[dict, dict]:
    """Fuse ``raw`` once per target with ORT's optimizer (``FusionOptions``): the full fusion
    (counted in the report; the fp16 source, since CUDA's SkipLayerNormalization is fast), the
    CPU fp32 graph (skip + layer norm left as Add + LayerNormalization when
    ``split_skip_layernorm``: ORT's CPU kernels for those are ~4x faster than the fused one) and
    the int8 source (the same, with the tanh GELU when ``int8_gelu`` is tanh)."""
    heads = getattr(config, "num_attention_heads", getattr(config, "n_heads", 0))
    hidden = getattr(config, "hidden_size", getattr(config, "dim", 0))
    work = os.path.dirname(raw)

    def fuse(dst: str, skip_layer_norm: bool, gelu_approximation: bool, details: dict) -> dict:
        ops = convert.fuse(
            raw,
            dst,
            config.model_type,
            heads,
            hidden,
            cfg.optimize,
            skip_layer_norm=skip_layer_norm,
            gelu_approximation=gelu_approximation,
        )
        if cfg.cls_tail:
            details.update(cls_tail.slice_cls_tail(dst, dst))
        return ops

    o3, split = cfg.optimize == "O3", cfg.split_skip_layernorm
    paths = {"fp32": os.path.join(out_dir, FILES["fp32"])}
    full, details = (
        os.path.join(work, "fused.onnx"),
        {"fp32": {"optimize": cfg.optimize}, "fp16": {}},
    )
    fused = fuse(full, True, o3, details["fp16"])
    cpu_ops = fuse(paths["fp32"], not split, o3, details["fp32"])
    details["fp32"]["skip_layernorm_split"] = fused.get("SkipLayerNormalization", 0) if split else 0
    if "fp16" in cfg.precision:
        paths["fp16"] = os.path.join(out_dir, FILES["fp16"])
        details["fp16"] = convert.convert_fp16(full, paths["fp16"])
    if "int8" in cfg.precision:
        paths["int8"] = os.path.join(out_dir, FILES["int8"])
        source = os.path.join(work, "int8_source.onnx")
        tanh = o3 or cfg.int8_gelu == "tanh"
        int8_ops = fuse(source, not split, tanh, {})
        replaced = int8_ops.get("FastGelu", 0) - cpu_ops.get("FastGelu", 0)
        gelu = {
            "gelu": "tanh" if tanh and int8_ops.get("FastGelu") else "erf",
            "gelu_replaced": replaced,
        }
        details["int8"] = gelu | _quantize_int8(source, paths["int8"], cfg)
    ordered = {p: paths[p] for p in FILES if p in paths}  # fp32, int8, fp16 (int8-static later)
    return ordered, {"fused_ops": fused, "details": details}


def _quantize_int8(source: str, dst: str, cfg: ExportConfig) -> dict:
    """Dynamic int8 from ``source``, then per-row activation scales unless opted out."""
    details = convert.quantize_int8(
        source, dst, cfg.per_channel, cfg.weight_type, cfg.reduce_range, cfg.exclude_nodes
    )
    if cfg.int8_activations == "per-row":
        rowquant.per_row_int8(dst, dst)
    return details | {
        "activation_quant": cfg.int8_activations,
        "row_invariant": cfg.int8_activations == "per-row",
    }


@dataclass
class _Check:
    """What parity needs to gate a variant: reference logits, token ids, validation set."""

    ref: np.ndarray
    ids: list
    pad_id: int
    val: parity.ValidationSet
    ref_acc: float | None
    calibration: list  # token ids int8-static's activation ranges are measured on
    calibration_source: str


def _static_variant(raw: str, out_dir: str, cfg: ExportConfig, check: _Check, details: dict):
    """Build int8-static from the exported graph ([CLS] tail first when asked for), gate it,
    and when it fails on accuracy rebuild it with accuracy control (sensitive layers kept in
    fp32 until the drop is within the gate). Returns its parity result."""
    source = raw
    if cfg.cls_tail:
        source = os.path.join(os.path.dirname(raw), "static_source.onnx")
        cls_tail.slice_cls_tail(raw, source)
    dst = os.path.join(out_dir, FILES["int8-static"])
    calibration, keep = check.calibration, cfg.static_keep
    calibrated_on = {"calibration_data": check.calibration_source}
    details["int8-static"] = static_int8.quantize_static(source, dst, calibration, keep)
    details["int8-static"] |= calibrated_on

    def gate():
        return parity.compare(
            "int8-static",
            dst,
            check.ref,
            check.ids,
            check.pad_id,
            check.val,
            cfg,
            check.ref_acc,
            True,
        )

    res = gate()
    if res.status == "ok" or any(r.startswith("row invariance") for r in res.reasons):
        return res
    labeled = check.val.labels is not None
    targets = check.val.labels if labeled else check.ref.argmax(1)
    max_drop = cfg.max_drop / 100 if labeled else 1 - cfg.min_agreement_int8
    log.info(
        "int8-static failed its gate (%s): keeping its most sensitive layers in fp32",
        "; ".join(res.reasons),
    )
    first = res.reasons
    details["int8-static"] = (
        static_int8.restore_accuracy(source, dst, calibration, check.ids, targets, max_drop, keep)
        | {"failed_before_accuracy_control": first}
        | calibrated_on
    )
    return gate()


def _calibration_ids(cfg: ExportConfig, texts, encoder, ids: list) -> tuple[list, str]:
    """int8-static's calibration token ids and what they are: ``calibration_data``'s first
    rows (``texts``, recorded by file name only), else the first validation rows."""
    if texts is None:
        return ids[: cfg.calibration_rows], "validation rows"
    return encoder.encode(texts), os.path.basename(os.path.normpath(cfg.calibration_data))


def export_model(model: str, out_dir: str, cfg: ExportConfig | None = None) -> ExportReport:
    """Export ``model`` to a bundle in ``out_dir``; raise ParityError when a variant fails
    its gate (unless ``cfg.force``). Returns the report."""
    given, model = model, model_dir_of(model)
    cfg = _run_validation(given, model, cfg or ExportConfig())
    _prepare_out(out_dir)
    # read before the slow steps, so that a bad --calibration-data fails at once
    calib_texts = parity.load_calibration_texts(cfg) if "int8-static" in cfg.precision else None
    config, tok = _load_source(model)
    policy = _policy(model, cfg, config, tok)
    policy["pooling"] = resolve_pooling("auto", model, config)
    work = tempfile.mkdtemp(prefix=".export-", dir=out_dir)
    try:
        raw = convert.export_onnx(model, work, cfg.opset, policy["pooling"])
        paths, built = _build(raw, out_dir, cfg, config)
        backend, lowercase = _write_tokenizer(tok, out_dir)
        encoder = TextEncoder(
            backend, policy["max_length"], policy["truncation"], policy["head_fraction"]
        )
        val = parity.load_validation(cfg, {v: k for k, v in config.id2label.items()})
        ids = encoder.encode(val.texts)
        ref = parity.torch_logits(load_classifier(model, policy["pooling"]), ids, encoder.pad_id)
        ref_acc = float((ref.argmax(1) == val.labels).mean()) if val.labels is not None else None
        report = ExportReport(out_dir, source_name(model), val.source, len(ids), built["fused_ops"])
        claims = {p: built["details"].get(p, {}).get("row_invariant", p == "fp32") for p in paths}
        done = {
            p: parity.compare(p, paths[p], ref, ids, encoder.pad_id, val, cfg, ref_acc, claims[p])
            for p in paths
        }
        if "int8-static" in cfg.precision:
            calibration, calibrated_on = _calibration_ids(cfg, calib_texts, encoder, ids)
            check = _Check(ref, ids, encoder.pad_id, val, ref_acc, calibration, calibrated_on)
            done["int8-static"] = _static_variant(raw, out_dir, cfg, check, built["details"])
        report.variants = [done[p] for p in cfg.precision]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    calibrate_report(report, ref, val.labels, cfg.calibrate, [len(row) for row in ids])
    _write_manifest(out_dir, model, config, policy, lowercase, report, built, cfg)
    log.info("\n%s", report.table())
    if report.left_out and not cfg.force:
        log.warning(
            "%s failed its parity gate and was left out of the bundle; it has %s",
            ", ".join(report.left_out),
            ", ".join(v.precision for v in report.variants if v.status == "ok"),
        )
    if report.fatal and not cfg.force:
        raise ParityError(
            "Every variant to pass its parity gate",
            f"{', '.join(report.fatal)} failed ({'; '.join(r for v in report.variants if v.precision in report.fatal for r in v.reasons)})",
            report.advice(),
        )
    return report


def source_name(model: str) -> str:
    """What the manifest records as the source: a hub id as given, a local directory by its
    name only (a bundle travels; the exporter's file system layout does not belong in it)."""
    if os.path.isdir(model):
        return os.path.basename(os.path.normpath(os.path.abspath(model)))
    return model


def _write_manifest(
    out_dir, model, config, policy, lowercase, report: ExportReport, built, cfg: ExportConfig
) -> None:
    variants = {}
    for v in report.variants:
        if v.status != "ok" and not cfg.force:
            os.remove(os.path.join(out_dir, v.file))  # a failed variant is never left usable
            continue
        variants[v.precision] = {
            "file": v.file,
            "precision": v.precision,
            "status": v.status,
            **({"failed_on": v.reasons} if v.reasons else {}),
            **built["details"].get(v.precision, {}),
            "parity": {
                "max_abs_delta": v.max_abs_delta,
                "agreement": v.agreement,
                "accuracy": v.accuracy,
                "ece": v.ece,
                "ece_calibrated": v.ece_calibrated,
                "ms_per_row_cpu": v.ms_per_row if v.device == "cpu" else None,
                "row_invariance_max_dp": v.invariance,
            },
        }
    used = used_files({"variants": variants}, out_dir)  # external data files included
    files = {name: sha256_file(os.path.join(out_dir, name)) for name in used}
    meta = {
        "format": BUNDLE_FORMAT,
        "format_version": FORMAT_VERSION,
        "version": cfg.version,
        "sentiscore_version": __version__,
        "labels": {str(i): config.id2label[i] for i in range(config.num_labels)},
        "max_length": int(policy["max_length"]),
        "truncation": policy["truncation"],
        "head_fraction": policy["head_fraction"],
        "lowercase": lowercase,
        "source_model": source_name(model),
        "source_revision": getattr(config, "_commit_hash", None),
        "model_type": config.model_type,
        "pooling": policy["pooling"],
        **report.calibration.to_manifest(),
        "variants": variants,
        "fused_ops": report.fused_ops,
        "opset": cfg.opset,
        "metrics": {
            "export": {
                "validation": report.validation,
                "rows": report.rows,
                "reference_accuracy": report.reference_accuracy,
            },
            "train": policy["train"].get("eval_metrics"),
        },
        "files": files,
    }
    with open(os.path.join(out_dir, "export_report.json"), "w", encoding="utf-8") as f:
        json.dump({**report.as_dict(), "config": cfg.as_dict()}, f, indent=2, default=str)
    with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
