"""Upgrade an existing bundle's stock (per-tensor) dynamic int8 variant to per-row int8.

For bundles exported before per-row int8 existed, and for bundles whose source model is gone:
the int8 weights are kept, only the activation quantisation is rewritten (``rowquant``). The
result is checked against the old variant on a built-in sample (row invariance, agreement) and
written as a new bundle directory with an updated manifest; the source bundle is not touched.
A full re-export with ``sentiscore export`` is still the way to get an fp32 variant or a fresh
parity report against PyTorch.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np

from sentiscore.errors import BundleError, ParityError
from sentiscore.export import rowquant
from sentiscore.export.parity import invariance, onnx_logits
from sentiscore.infer.bundle import load_bundle
from sentiscore.infer.manifest import MANIFEST
from sentiscore.infer.tokenize import TextEncoder
from sentiscore.io.writers import sha256_file
from sentiscore.samples import builtin_sample

log = logging.getLogger(__name__)
MAX_INVARIANCE = 1e-3
# The old variant is itself batch-dependent and the built-in sample is deliberately ambiguous
# in places, so agreement is a sanity floor, not a parity gate.
MIN_AGREEMENT = 0.9


def upgrade_bundle(src: str, dst: str, version: str | None = None) -> dict:
    """Write ``dst``: a copy of bundle ``src`` whose int8 variant quantises per row. Returns
    the check figures (rows, agreement with the old variant, row invariance)."""
    bundle = load_bundle(src)
    v = bundle.variants().get("int8")
    if not v:
        raise BundleError(
            "An int8 variant to upgrade", f"variants {sorted(bundle.variants())}", "nothing to do"
        )
    if bundle.row_invariant("int8"):
        raise BundleError(
            "An int8 variant with per-tensor activation scales",
            f"{src} already quantises per row",
            "use it as it is",
        )
    if os.path.exists(dst):
        raise BundleError(f"'{dst}' not to exist", "it exists", "choose a new output directory")
    shutil.copytree(bundle.path, dst)
    path = os.path.join(dst, v["file"])
    try:
        rowquant.per_row_int8(os.path.join(bundle.path, v["file"]), path)
        check = _check(bundle, os.path.join(bundle.path, v["file"]), path)
    except BaseException:
        shutil.rmtree(dst, ignore_errors=True)  # never leave a half-upgraded bundle
        raise
    meta = json.loads(json.dumps(bundle.meta))
    int8 = meta["variants"]["int8"]
    int8["parity_before_upgrade"] = int8.pop("parity", None)  # measured on the per-tensor graph
    int8.update(
        {
            "activation_quant": "per-row",
            "row_invariant": True,
            "upgraded_from": bundle.meta.get("version"),
            "parity": {
                "sample_rows": check["rows"],
                "agreement_with_previous": check["agreement_with_old"],
                "row_invariance_max_dp": check["invariance"],
            },
        }
    )
    if version:
        meta["version"] = version
    meta["files"][v["file"]] = sha256_file(path)
    with open(os.path.join(dst, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    return check


def _check(bundle, old: str, new: str) -> dict:
    enc = TextEncoder(
        bundle.tokenizer_path,
        bundle.max_length,
        bundle.truncation,
        bundle.meta.get("head_fraction", 0.25),
    )
    ids = enc.encode(builtin_sample(200))
    before, _ = onnx_logits("int8", old, "cpu", ids, enc.pad_id)
    after, _ = onnx_logits("int8", new, "cpu", ids, enc.pad_id)
    inv = invariance("int8", new, "cpu", ids, enc.pad_id, after)
    agreement = float((before.argmax(1) == after.argmax(1)).mean())
    check = {"rows": len(ids), "agreement_with_old": agreement, "invariance": inv}
    log.info("upgrade check: %s", check)
    if inv > MAX_INVARIANCE or agreement < MIN_AGREEMENT or not np.isfinite(after).all():
        raise ParityError(
            "The per-row int8 variant to be row-invariant and to agree with the old one",
            f"max |dp| alone vs batched {inv:.2e}, agreement {agreement:.2%}",
            "re-export from the source model with 'sentiscore export'",
        )
    return check
