"""Model bundle: read and check the directory that ``export`` writes and ``infer`` needs.

A bundle holds ONNX model variants (fp32 / int8 / fp16), ``tokenizer.json`` and
``sentiscore.json`` (labels, max_length, truncation, temperature, sha256 of every file...).
This module resolves ``"default"`` to the embedded bundle, validates the manifest, verifies
checksums and picks the variant for a device. It runs no model; ``session`` and ``scorer`` do.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

from sentiscore.errors import BundleError
from sentiscore.infer.manifest import (
    FILE_OF,
    MANIFEST,
    inside,
    unlisted,
    used_files,
    validate,
)
from sentiscore.io.uris import is_uri
from sentiscore.io.writers import sha256_file

log = logging.getLogger(__name__)
PRECISIONS = ("fp32", "int8", "int8-static", "fp16", "bf16")
# What "auto" takes on CUDA, best first; on the CPU it measures (``auto``). int8 is never
# offered for CUDA: dynamic int8 runs ~20x slower there (onnxruntime#10267).
AUTO_ORDER = {"cuda": ("fp16", "fp32")}
DEVICES_FOR = {
    "fp32": ("cpu", "cuda"),
    "int8": ("cpu",),
    "int8-static": ("cpu",),
    "fp16": ("cuda",),
    "bf16": ("cpu",),
}


def default_bundle_dir() -> str:
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "default"
    )


@dataclass
class Bundle:
    """A validated model bundle on disk."""

    path: str
    meta: dict = field(repr=False)

    @property
    def labels(self) -> list[str]:
        lab = self.meta["labels"]
        return [lab[str(i)] for i in range(len(lab))]

    @property
    def max_length(self) -> int:
        return int(self.meta["max_length"])

    @property
    def truncation(self) -> str:
        return self.meta.get("truncation", "head")

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0) or 1.0)

    @property
    def tokenizer_path(self) -> str:
        return os.path.join(self.path, "tokenizer.json")

    def variants(self) -> dict:
        return self.meta.get("variants", {})

    def runnable(self) -> list[str]:
        """Precisions this bundle can run here: its variants that passed parity, plus bf16 when
        it has fp32 and this CPU runs bf16 natively in OpenVINO."""
        ok = [p for p, v in self.variants().items() if v.get("status", "ok") == "ok"]
        if "fp32" in ok:
            from sentiscore.infer.openvino import bf16_available

            if bf16_available():
                ok.append("bf16")
        return ok

    @property
    def embedded(self) -> bool:
        """True for the default model shipped inside the package."""
        return os.path.realpath(self.path) == os.path.realpath(default_bundle_dir())

    @property
    def name(self) -> str:
        """How reports name it: 'default' for the embedded model (where it is installed says
        nothing about it), else its path."""
        return "default" if self.embedded else self.path

    def fingerprint(self) -> str:
        """sha256 of the manifest, which itself holds the sha256 of every file."""
        return sha256_file(os.path.join(self.path, MANIFEST))

    def row_invariant(self, precision: str) -> bool:
        """Whether a row's scores from this variant are independent of its batch. int8 is when
        its activations are quantised per row (``export/rowquant.py``); ONNX Runtime's stock
        dynamic int8 picks one scale per micro-batch and is not. int8-static's scales are
        fixed at export."""
        v = self.variants().get(precision) or {}
        if precision == "int8":
            return v.get("activation_quant") == "per-row"
        if precision == "int8-static":
            return v.get("activation_quant") == "static"
        return True

    def choose(self, device: str, precision: str = "auto", skip=()) -> tuple[str, str]:
        """Return (precision, model file path) for ``device`` ('cpu' or 'cuda'); ``auto``
        passes over the precisions in ``skip`` and, on the CPU, takes ``auto``'s measured
        choice (the same whatever the run's threads)."""
        variants = self.variants()
        if precision == "auto":
            return self._choose_auto(device, variants, tuple(skip))
        if precision not in PRECISIONS:
            raise BundleError(
                f"--precision to be auto or one of {', '.join(PRECISIONS)}",
                f"'{precision}'",
                "pick one of those",
            )
        if device not in DEVICES_FOR[precision]:
            raise BundleError(
                f"Precision '{precision}' runs on {'/'.join(DEVICES_FOR[precision])}",
                f"device '{device}'",
                "use --precision fp16 or fp32 on CUDA (dynamic int8 is ~20x slower there), int8 or fp32 on CPU",
            )
        v = variants.get(FILE_OF.get(precision, precision))
        if not v and self.embedded:
            raise BundleError(
                f"A '{FILE_OF.get(precision, precision)}' variant in the embedded default model",
                f"it ships only {', '.join(sorted(variants))}, to keep the install small",
                f"use --precision {'/'.join(sorted(variants))} or auto, or export your own "
                "bundle with 'sentiscore export' for other variants",
            )
        if not v:
            raise BundleError(
                f"A '{FILE_OF.get(precision, precision)}' variant in the bundle"
                + (" (bf16 runs the fp32 graph in OpenVINO)" if precision == "bf16" else ""),
                f"only {sorted(variants)} in {self.path}",
                f"re-export with --precision {FILE_OF.get(precision, precision)}",
            )
        if precision == "bf16":
            _check_bf16()
        if v.get("status", "ok") != "ok":
            raise BundleError(
                f"The '{precision}' variant to have passed its parity check",
                f"status '{v.get('status')}' in {self.path}",
                "re-export it (see export_report.json) or choose another --precision",
            )
        if not self.row_invariant(precision):
            log.warning(
                "the int8 variant of %s quantises activations per micro-batch: a row's scores "
                "depend on the rows it is batched with; re-export it (per-row int8) for stable scores",
                self.path,
            )
        return precision, os.path.join(self.path, v["file"])

    def _choose_auto(self, device: str, variants: dict, skip: tuple) -> tuple[str, str]:
        if device == "cpu":
            from sentiscore.infer.auto import decide

            d = decide(self, skip)
            if d.precision:
                log.info("precision auto on cpu: %s%s", d.why, _skipped_note(d.skipped))
                return d.precision, os.path.join(
                    self.path, variants[FILE_OF.get(d.precision, d.precision)]["file"]
                )
            reasons = d.skipped
        else:
            reasons = {}
            for p in AUTO_ORDER[device]:
                v = variants.get(p)
                if v and v.get("status", "ok") == "ok" and p not in skip:
                    log.info("precision auto on %s: %s, the fastest variant there", device, p)
                    return p, os.path.join(self.path, v["file"])
                reasons[p] = "missing or failed its export gate"
        raise BundleError(
            f"A usable, row-invariant variant for device '{device}'",
            f"none in {self.path}: " + "; ".join(f"{p} {why}" for p, why in reasons.items()),
            "re-export the bundle with 'sentiscore export', or pass --precision int8 "
            "to accept batch-dependent scores",
        )

    def verify(self) -> None:
        """Check that every file the scorer reads is listed in the manifest, exists and has the
        recorded sha256."""
        missing = unlisted(self.meta, self.path)
        if missing:
            raise BundleError(
                f"Every file the scorer reads listed with its sha256 in {MANIFEST}",
                f"{missing} not listed in {self.path}",
                "re-export the bundle, or pass --no-verify to use unverified files",
            )
        for name, digest in self.meta["files"].items():
            p = inside(name, self.path)
            if not os.path.exists(p):
                raise BundleError(
                    f"Bundle file '{name}'",
                    f"it is missing from {self.path}",
                    "re-export the bundle",
                )
            if sha256_file(p) != digest:
                raise BundleError(
                    f"'{name}' to match the sha256 in {MANIFEST}",
                    "a different checksum (file changed or corrupt)",
                    "re-export or re-download the bundle",
                )


def _check_bf16() -> None:
    from sentiscore.infer.openvino import bf16_capabilities

    ok, why = bf16_capabilities()
    if not ok:
        raise BundleError(
            "--precision bf16 to run on a CPU with native bf16 (AMX or AVX-512 BF16) through "
            "OpenVINO",
            why,
            "use --precision int8 or fp32, or install sentiscore[openvino] on such a CPU",
        )


def _skipped_note(skipped: dict) -> str:
    """'; not: int8 (failed its export gate (...))' for the variants auto could not take."""
    shown = {p: why for p, why in skipped.items() if not why.startswith("the bundle has no")}
    if not shown:
        return ""
    return "; not taken: " + "; ".join(f"{p}: {why}" for p, why in shown.items())


def load_bundle(path: str = "default", verify: bool = True) -> Bundle:
    """Load and validate the bundle at ``path`` ('default' = the embedded model)."""
    where = default_bundle_dir() if path in ("default", None) else str(path)
    if is_uri(where):  # shared storage: a local copy, fetched once per machine
        from sentiscore.infer.fetch import local_bundle

        where = local_bundle(where)
    manifest = os.path.join(where, MANIFEST)
    if not os.path.isdir(where):
        raise BundleError(
            "--model to be a bundle directory or 'default'",
            f"'{where}' is not a directory",
            "run 'sentiscore export' first",
        )
    if not os.path.exists(manifest):
        hint = (
            "this install lacks the default model; reinstall sentiscore"
            if path == "default"
            else "point --model at a directory written by 'sentiscore export'"
        )
        raise BundleError(f"A {MANIFEST} in the bundle directory", f"none in '{where}'", hint)
    if not os.path.exists(os.path.join(where, "tokenizer.json")):
        raise BundleError(
            "tokenizer.json in the bundle directory", f"none in '{where}'", "re-export the bundle"
        )
    try:
        with open(manifest, encoding="utf-8") as f:
            meta = json.load(f)
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"{MANIFEST} to be valid JSON",
            f"{exc.msg} at line {exc.lineno}",
            "re-export the bundle",
        ) from exc
    except RecursionError:
        raise BundleError(
            f"{MANIFEST} to be a manifest", "JSON nested too deeply to read", "re-export the bundle"
        ) from None
    validate(meta, where)
    bundle = Bundle(where, meta)
    if verify:
        bundle.verify()
    else:
        used_files(meta, where)  # external data outside the bundle is refused all the same
    return bundle
