"""Model bundle: read and check the directory that ``export`` writes and ``infer`` needs.

A bundle holds ONNX model variants (fp32 / int8 / fp16), ``tokenizer.json`` and
``sentiscore.json`` (labels, max_length, truncation, temperature, sha256 of every file...).
This module resolves ``"default"`` to the embedded bundle, validates the manifest, verifies
checksums and states which variants are row-invariant. Which variant runs on this machine is
``precision``'s decision; running it is ``runners``'.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from sentiscore.calibration import Calibration
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
    def calibration(self) -> Calibration:
        """Temperature per token band, or the single ``temperature`` (validated on load)."""
        return Calibration.from_manifest(self.meta)

    @property
    def tokenizer_path(self) -> str:
        return os.path.join(self.path, "tokenizer.json")

    def variants(self) -> dict:
        return self.meta.get("variants", {})

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
        precision = FILE_OF.get(precision, precision)
        v = self.variants().get(precision) or {}
        if precision == "int8":
            return v.get("activation_quant") == "per-row"
        if precision == "int8-static":
            return v.get("activation_quant") == "static"
        return True

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
