"""A bundle's ``sentiscore.json`` is untrusted input: its types, values and file paths are
checked here before anything uses them, so that a bad manifest is a one-line ``BundleError``
and never wrong scores (a negative temperature inverts every label, NaN makes every
probability NaN), a traceback, or a read outside the bundle directory.

What the checks cannot see in the JSON (the model's output size and position limit) is probed
by ``Scorer`` on load; checksums are verified by ``Bundle.verify``.
"""

from __future__ import annotations

import math
import os
import re

from sentiscore.calibration import Calibration
from sentiscore.choices import MAX_LENGTH_RANGE, TRUNCATIONS
from sentiscore.errors import BundleError

MANIFEST = "sentiscore.json"
# Precisions that are not files of their own: OpenVINO runs the fp32 graph at bf16, and the
# int8-static graph with bf16 for its non-integer ops (``choices.BF16_PRECISIONS``).
FILE_OF = {"bf16": "fp32", "int8-static-bf16": "int8-static"}
BUNDLE_FORMAT = "sentiscore-bundle"
FORMAT_VERSION = 1
TOKENIZER = "tokenizer.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _bad(what: str, found, path: str) -> BundleError:
    return BundleError(
        f"{MANIFEST} {what}",
        f"{found!r} in {path}",
        "re-export the bundle with 'sentiscore export' (or fix the manifest)",
    )


def validate(meta, path: str) -> None:
    """Raise BundleError unless ``meta`` is a well-formed manifest for the bundle at ``path``."""
    if not isinstance(meta, dict):
        raise _bad("to be a JSON object", type(meta).__name__, path)
    if meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{MANIFEST} with format '{BUNDLE_FORMAT}'",
            f"format {meta.get('format')!r} in {path}",
            "point --model at a directory written by 'sentiscore export'",
        )
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BundleError(
            f"Bundle format version <= {FORMAT_VERSION}", repr(version), "upgrade sentiscore"
        )
    for key in ("labels", "max_length", "variants"):
        if key not in meta:
            raise _bad(f"to have the key '{key}'", "it is missing", path)
    _check_labels(meta["labels"], path)
    _check_numbers(meta, path)
    if meta.get("truncation", "head") not in TRUNCATIONS:
        raise _bad(f"truncation to be one of {TRUNCATIONS}", meta.get("truncation"), path)
    if not isinstance(meta.get("lowercase", True), bool):
        raise _bad("lowercase to be true or false", meta.get("lowercase"), path)
    _check_variants(meta["variants"], path)
    _check_files(meta.get("files"), path)
    source = meta.get("source_model")
    if source is not None and (not isinstance(source, str) or _is_absolute(source)):
        raise _bad(
            "source_model to be a model name, not a path of the exporting machine", source, path
        )  # noqa: E501


def _check_labels(labels, path: str) -> None:
    if not isinstance(labels, dict) or len(labels) < 2:
        raise _bad("labels to map ids '0'..'n-1' (n >= 2) to names", labels, path)
    if sorted(labels) != sorted(str(i) for i in range(len(labels))):
        raise _bad("label ids to be '0'..'n-1'", sorted(labels), path)
    names = list(labels.values())
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise _bad("label names to be non-empty strings", names, path)
    if len(set(names)) != len(names):
        raise _bad("label names to be unique (each becomes a prob_<label> column)", names, path)


def _check_numbers(meta: dict, path: str) -> None:
    lo, hi = MAX_LENGTH_RANGE
    ml = meta["max_length"]
    if isinstance(ml, bool) or not isinstance(ml, int) or not lo <= ml <= hi:
        raise _bad(f"max_length to be an integer in {lo}..{hi}", ml, path)
    t = meta.get("temperature", 1.0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        raise _bad("temperature to be a finite number > 0", t, path)
    try:
        Calibration.from_manifest(meta)
    except ValueError as exc:
        raise _bad(
            "calibration to be token bands with one temperature > 0 each", str(exc), path
        ) from exc
    hf = meta.get("head_fraction", 0.25)
    if isinstance(hf, bool) or not isinstance(hf, (int, float)) or not 0 < hf < 1:
        raise _bad("head_fraction to be a number between 0 and 1", hf, path)


def _check_variants(variants, path: str) -> None:
    if not isinstance(variants, dict) or not variants:
        raise _bad("variants to map precisions to their files", variants, path)
    for name, v in variants.items():
        if not isinstance(v, dict) or not isinstance(v.get("file"), str):
            raise _bad(f"variant '{name}' to name its file", v, path)
        inside(v["file"], path)


def _check_files(files, path: str) -> None:
    if files is None:
        return  # refused by Bundle.verify unless verification is off
    if not isinstance(files, dict):
        raise _bad("files to map file names to sha256 digests", files, path)
    for name, digest in files.items():
        inside(name, path)
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise _bad(f"the sha256 of '{name}' to be 64 hex digits", digest, path)


def _is_absolute(name: str) -> bool:
    return os.path.isabs(name) or bool(re.match(r"^[A-Za-z]:[\\/]", name)) or name.startswith("~")


def inside(name, path: str) -> str:
    """The real path of bundle file ``name``, refused unless it is a plain relative name that
    stays inside the bundle directory (no absolute paths, no '..', no links out)."""
    if (
        not isinstance(name, str)
        or not name
        or _is_absolute(name)
        or ".." in re.split(r"[\\/]", name)
    ):  # noqa: E501
        raise _bad("file names to be relative paths inside the bundle", name, path)
    root = os.path.realpath(path)
    real = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, real]) != root:
        raise _bad("file names to stay inside the bundle directory", name, path)
    return real


def unlisted(meta: dict, path: str) -> list[str]:
    """Files the scorer reads that the manifest does not list with a checksum."""
    listed = set((meta.get("files") or {}).keys())
    return sorted(set(used_files(meta, path)) - listed)


def used_files(meta: dict, path: str) -> list[str]:
    """Every file the scorer reads from the bundle at ``path``: the tokenizer, each variant's
    model, and the external data files those models name (refused unless inside the bundle)."""
    models = list(dict.fromkeys(v["file"] for v in meta["variants"].values()))
    names = [TOKENIZER, *models]
    for model in models:
        real = inside(model, path)
        if os.path.isfile(real):
            for name in external_data(real):
                inside(name, path)
                names.append(os.path.normpath(os.path.join(os.path.dirname(model), name)))
    return list(dict.fromkeys(names))


# How an ONNX TensorProto names its external data file: a StringStringEntryProto whose key
# (field 1, 8 bytes) is "location", then its value (field 2, length-delimited).
_LOCATION = b"\x0a\x08location\x12"


def external_data(model_path: str) -> list[str]:
    """The external data files an ONNX model names (relative to its directory), found in its
    bytes without parsing the protobuf (the light install has no onnx package)."""
    import mmap

    names = []
    with open(model_path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return []
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            at = data.find(_LOCATION)
            while at != -1:
                size, start = _varint(data, at + len(_LOCATION))
                name = bytes(data[start : start + size]).decode("utf-8", "replace")
                if name not in names:
                    names.append(name)
                at = data.find(_LOCATION, start + size)
    return names


def _varint(data, at: int) -> tuple[int, int]:
    """(value, index after it) of the protobuf varint at ``at``."""
    value, shift = 0, 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            break
    return value, at
