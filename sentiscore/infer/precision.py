"""Which variant of a bundle runs on this machine: the hardware policy of ``--precision``.

``choose`` turns a device and a requested precision into a ``Choice``: the precision, the
model file and the reason, which the scorer logs and ``bench`` reports. Explicit precisions
are checked against the bundle (present, passed its gate) and the device (int8 on the CPU
only, bf16 only where OpenVINO runs it natively). ``auto`` takes the first passing variant
of ``AUTO_ORDER`` on CUDA and ``auto.decide``'s measurement on the CPU. What a bundle holds
is ``bundle``'s concern; running a variant is ``runners``'.
"""

from __future__ import annotations

import logging
import os
from typing import NamedTuple

from sentiscore.choices import BF16_PRECISIONS
from sentiscore.errors import BundleError
from sentiscore.infer.config import check_run_options
from sentiscore.infer.manifest import FILE_OF

log = logging.getLogger(__name__)
# What "auto" takes on CUDA, best first; on the CPU it measures (``auto``). int8 is never
# offered for CUDA: dynamic int8 runs ~20x slower there (onnxruntime#10267).
AUTO_ORDER = {"cuda": ("fp16", "fp32")}
DEVICES_FOR = {
    "fp32": ("cpu", "cuda"),
    "int8": ("cpu",),
    "int8-static": ("cpu",),
    "fp16": ("cuda",),
    "bf16": ("cpu",),
    "int8-static-bf16": ("cpu",),
}


class Choice(NamedTuple):
    precision: str
    model_path: str
    reason: str  # why this precision: the user's request, or auto's measurement


def runnable(bundle, device: str = "cpu") -> list[str]:
    """Precisions ``bundle`` can run on ``device`` here: its variants that passed parity, plus
    the bf16 precisions of those (``choices.BF16_PRECISIONS``) on a CPU that runs bf16
    natively in OpenVINO."""
    ok = [
        p
        for p, v in bundle.variants().items()
        if v.get("status", "ok") == "ok" and device in DEVICES_FOR.get(p, ())
    ]
    extra = [p for p in BF16_PRECISIONS if FILE_OF[p] in ok]
    if device == "cpu" and extra:
        from sentiscore.infer.openvino import bf16_available

        if bf16_available():
            ok.extend(extra)
    return ok


def choose(bundle, device: str, precision: str = "auto", skip=()) -> Choice:
    """The variant to run on ``device`` ('cpu' or 'cuda'). ``auto`` passes over the precisions
    in ``skip`` and, on the CPU, takes ``auto``'s measured choice (the same whatever the
    run's threads)."""
    if precision == "auto":
        return _choose_auto(bundle, device, tuple(skip))
    check_run_options(precision=precision)
    if device not in DEVICES_FOR[precision]:
        raise BundleError(
            f"Precision '{precision}' runs on {'/'.join(DEVICES_FOR[precision])}",
            f"device '{device}'",
            "use --precision fp16 or fp32 on CUDA (dynamic int8 is ~20x slower there), "
            "int8 or fp32 on CPU",
        )
    v = _variant(bundle, precision)
    if precision in BF16_PRECISIONS:
        _check_bf16(precision)
    if v.get("status", "ok") != "ok":
        raise BundleError(
            f"The '{precision}' variant to have passed its parity check",
            f"status '{v.get('status')}' in {bundle.path}",
            "re-export it (see export_report.json) or choose another --precision",
        )
    if not bundle.row_invariant(precision):
        log.warning(
            "the int8 variant of %s quantises activations per micro-batch: a row's scores "
            "depend on the rows it is batched with; re-export it (per-row int8) for stable scores",
            bundle.path,
        )
    return Choice(precision, os.path.join(bundle.path, v["file"]), f"{precision}, as asked")


def _variant(bundle, precision: str) -> dict:
    """The manifest entry of ``precision``'s file, or a BundleError saying how to get one."""
    name = FILE_OF.get(precision, precision)
    variants = bundle.variants()
    if name in variants:
        return variants[name]
    if bundle.embedded:
        raise BundleError(
            f"A '{name}' variant in the embedded default model",
            f"it ships only {', '.join(sorted(variants))}, to keep the install small",
            f"use --precision {'/'.join(sorted(variants))} or auto, or export your own "
            "bundle with 'sentiscore export' for other variants",
        )
    raise BundleError(
        f"A '{name}' variant in the bundle"
        + (f" ({precision} runs the {name} graph in OpenVINO)" if name != precision else ""),
        f"only {sorted(variants)} in {bundle.path}",
        f"re-export with --precision {name}",
    )


def _choose_auto(bundle, device: str, skip: tuple) -> Choice:
    variants = bundle.variants()
    if device == "cpu":
        from sentiscore.infer.auto import decide

        d = decide(bundle, skip)
        if d.precision:
            path = os.path.join(
                bundle.path, variants[FILE_OF.get(d.precision, d.precision)]["file"]
            )
            return Choice(d.precision, path, d.why + _skipped_note(d.skipped))
        reasons = d.skipped
    else:
        reasons = {}
        for p in AUTO_ORDER[device]:
            v = variants.get(p)
            if v and v.get("status", "ok") == "ok" and p not in skip:
                path = os.path.join(bundle.path, v["file"])
                return Choice(p, path, f"{p}, the fastest variant on {device}")
            reasons[p] = "missing or failed its export gate"
    raise BundleError(
        f"A usable, row-invariant variant for device '{device}'",
        f"none in {bundle.path}: " + "; ".join(f"{p} {why}" for p, why in reasons.items()),
        "re-export the model with 'sentiscore export MODEL --precision fp32,fp16' "
        "(the embedded default model ships CPU variants only), or use --device cpu"
        if device == "cuda"
        else "re-export the bundle with 'sentiscore export', or pass --precision int8 "
        "to accept batch-dependent scores",
    )


def _check_bf16(precision: str) -> None:
    from sentiscore.infer.openvino import bf16_capabilities

    ok, why = bf16_capabilities()
    if not ok:
        raise BundleError(
            f"--precision {precision} to run on a CPU with native bf16 (AMX or AVX-512 BF16) "
            "through OpenVINO",
            why,
            f"use --precision {FILE_OF[precision]}, or install sentiscore[openvino] on such a CPU",
        )


def _skipped_note(skipped: dict) -> str:
    """'; not taken: int8: failed its export gate (...)' for the variants auto could not take."""
    shown = {p: why for p, why in skipped.items() if not why.startswith("the bundle has no")}
    if not shown:
        return ""
    return "; not taken: " + "; ".join(f"{p}: {why}" for p, why in shown.items())
