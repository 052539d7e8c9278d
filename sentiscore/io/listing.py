"""Which files an INPUT names: files, directories, globs and object-store URIs, and their
format from the name (Parquet, CSV/TSV with optional .gz, JSONL/NDJSON, .txt).

A directory is listed recursively, skipping our own outputs (``*.scored.*``, unfinished
runs' ``<output>.parts/``), anything but regular files (FIFOs would hang) and names that
start with '.' or '_'; a directory committed by an engine (``_SUCCESS``, see ``io.commit``)
gives exactly the parts it lists. A missing file, bucket or key is a one-line error naming
it. Opening and reading the files is ``readers``' business.
"""

from __future__ import annotations

import glob as _glob
import os

import pyarrow as pa

from sentiscore.errors import InputDataError, first_line
from sentiscore.io.commit import MANIFEST_NAME, listed_parts
from sentiscore.io.uris import bare, child_uri, filesystem_of, is_uri

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def detect_format(path: str) -> str | None:
    """Return 'parquet', 'csv' or 'jsonl' from the file name, or None when unknown."""
    name = bare(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return fmt
    return None


def is_tsv(path: str) -> bool:
    """Whether the name says tab-separated: ``.tsv`` or ``.tsv.gz``."""
    return bare(path).lower().removesuffix(".gz").endswith(".tsv")


def expand(spec: str) -> list[str]:
    """The file paths or URIs that ``spec`` names, sorted ([] when a glob matches nothing)."""
    return _expand_uri(spec) if is_uri(spec) else _expand_local(spec)


def _expand_local(spec: str) -> list[str]:
    spec = spec[len("file://") :] if spec.startswith("file://") else spec
    if any(ch in spec for ch in "*?["):
        return sorted(p for p in _glob.glob(spec, recursive=True) if os.path.isfile(p))
    if os.path.isdir(spec):
        from pyarrow import fs

        committed = listed_parts(fs.LocalFileSystem(), os.path.abspath(spec))
        if committed is not None:  # a directory of engine parts: exactly the committed ones
            return sorted(os.path.join(spec, *name.split("/")) for name in committed)
        found = []
        for root, dirs, files in os.walk(spec):
            dirs[:] = [d for d in dirs if not _own_parts(os.path.join(root, d))]
            paths = [os.path.join(root, f) for f in files if detect_format(f)]
            found += [p for p in paths if os.path.isfile(p)]  # no FIFOs, sockets or devices
        # A directory of our own output (or hidden files, or scratch) is not input.
        return sorted(p for p in found if ".scored." not in p and not _hidden(p[len(spec) :]))
    if os.path.isfile(spec):
        return [spec]
    if os.path.exists(spec):
        raise InputDataError(
            "Each INPUT to be a regular file, a directory or a glob",
            f"'{spec}' is a pipe, socket or device",
            "pipe the data to stdin instead (... | sentiscore score - --input-format csv)",
        )
    raise InputDataError(
        "Each INPUT must be an existing file, directory or glob",
        f"'{spec}' does not exist",
        "check the path",
    )


def _own_parts(path: str) -> bool:
    """A ``<output>.parts/`` directory of an unfinished run (its parts and manifest are
    never input, even when the output was written inside the input directory)."""

    return path.endswith(".parts") and os.path.exists(os.path.join(path, MANIFEST_NAME))


def _hidden(rel: str) -> bool:
    """A path under a listed directory that readers skip: a file or directory in it starts
    with '.' or '_' (hidden files, ``_SUCCESS``, Spark's ``_temporary/``), as pyarrow does."""
    return any(p.startswith((".", "_")) for p in rel.replace(os.sep, "/").split("/") if p)


def _expand_uri(spec: str) -> list[str]:
    from pyarrow import fs

    try:
        filesystem, root = filesystem_of(spec)
        info = filesystem.get_file_info(root)
    except (OSError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        first = first_line(exc)
        raise InputDataError(
            "An INPUT URI that pyarrow can reach (s3://, gs://, hdfs://, ...)",
            f"'{spec}': {first}",
            "check the URI, the credentials and the network, or copy the file locally",
        ) from exc
    if info.type == fs.FileType.Directory:
        committed = listed_parts(filesystem, root.rstrip("/"))
        if committed is not None:  # a directory of engine parts: exactly the committed ones
            return sorted(child_uri(spec, f"{root.rstrip('/')}/{n}") for n in committed)
        sel = fs.FileSelector(root, recursive=True)
        return sorted(
            child_uri(spec, i.path)
            for i in filesystem.get_file_info(sel)
            if i.is_file and detect_format(i.path) and not _hidden(i.path[len(root) :])
        )
    if info.type == fs.FileType.File:
        return [spec]
    bucket = root.split("/", 1)[0]
    if "/" in root and filesystem.get_file_info(bucket).type == fs.FileType.NotFound:
        found = f"bucket '{bucket}' of '{spec}' does not exist (or these credentials cannot see it)"
    else:
        found = f"no key '{root.split('/', 1)[-1]}' in '{bucket}' ('{spec}')"
    raise InputDataError("Each INPUT must be an existing file or directory", found, "check the URI")
