"""Bundles on object storage: ``--model s3://bucket/bundles/imdb`` (or gs://, az://, any URI
pyarrow reaches) is copied once per machine into a local cache and used from there; and local
bundles packed as bytes for workers on other machines (``pack_bundle`` / ``unpack_bundle``).

This is how a cluster's workers get the bundle from shared storage: the driver, each Ray actor
and each Spark Python worker resolve the same URI, and the first of them on a machine
downloads it. The cache key is the sha256 of the bundle's manifest, which lists the sha256 of
every file: a re-exported bundle at the same URI is a new key, an unchanged one is not fetched
again. Downloads go to a temporary directory renamed into place, so concurrent workers never
see half a bundle, and only once every file matches its sha256 in the manifest, so a bad
upload is never cached (once fixed, the next run fetches it again). Checking the manifest
itself is ``bundle.load_bundle``'s job.
The cache lives in ``$SENTISCORE_CACHE`` (default ``~/.cache/sentiscore``)/bundles.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile

from sentiscore.errors import BundleError, first_line
from sentiscore.infer.manifest import MANIFEST
from sentiscore.io.uris import bare, filesystem_of

log = logging.getLogger(__name__)


def cache_base() -> str:
    """``$SENTISCORE_CACHE``, default ``~/.cache/sentiscore``: fetched bundles and auto's
    measurements."""
    return os.environ.get("SENTISCORE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "sentiscore"
    )


def cache_root() -> str:
    return os.path.join(cache_base(), "bundles")


def local_bundle(uri: str) -> str:
    """The local directory holding the bundle at ``uri``, downloaded if this machine has no
    copy of this version yet."""
    filesystem, root = _reach(uri)
    root = root.rstrip("/")
    manifest = _read(filesystem, f"{root}/{MANIFEST}", uri)
    return _cached(manifest, lambda into: _download(filesystem, root, into, uri), bare(uri))


def pack_bundle(path: str) -> dict:
    """A local bundle directory as bytes, to send to workers on other machines (Ray's object
    store); ``unpack_bundle`` turns it back into a directory there."""
    files = {}
    for root, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                files[os.path.relpath(full, path).replace(os.sep, "/")] = f.read()
    if MANIFEST not in files:
        raise BundleError(
            f"A {MANIFEST} in the bundle directory",
            f"none in '{path}'",
            "point it at a directory written by 'sentiscore export'",
        )
    return {"source": os.path.abspath(path), "files": files}


def unpack_bundle(packed: dict) -> str:
    """The directory of a packed bundle on this machine: its source directory when that holds
    the same version (the driver's machine), else a copy in the cache."""
    manifest = packed["files"][MANIFEST]
    source = os.path.join(packed["source"], MANIFEST)
    if os.path.isfile(source):
        with open(source, "rb") as f:
            if f.read() == manifest:
                return packed["source"]
    return _cached(manifest, lambda into: _write(packed["files"], into), packed["source"])


def _cached(manifest: bytes, fill, what: str) -> str:
    """The cache directory for the bundle version ``manifest``; ``fill(staging)`` writes its
    files (returning their bytes) when this machine has no copy yet."""
    where = os.path.join(cache_root(), hashlib.sha256(manifest).hexdigest()[:24])
    if os.path.isfile(os.path.join(where, MANIFEST)):
        return where
    os.makedirs(cache_root(), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".fetch-", dir=cache_root())
    try:
        size = fill(staging)
        with open(os.path.join(staging, MANIFEST), "wb") as f:  # the version keyed on
            f.write(manifest)
        _check_copy(staging, manifest, what)  # a bad copy is never cached
        try:
            os.rename(staging, where)
        except OSError:  # another worker on this machine finished first: use its copy
            if not os.path.isfile(os.path.join(where, MANIFEST)):
                raise
        else:
            log.info("copied bundle %s (%.1f MB) into %s", what, size / 1e6, where)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return where


def _check_copy(staging: str, manifest: bytes, what: str) -> None:
    """Every file the manifest lists, present with its sha256 in the copy: else the copy is
    dropped, so that a later run fetches again (once the objects are fixed) instead of
    failing on a cached bad copy."""
    import json

    from sentiscore.io.writers import sha256_file

    try:
        files = json.loads(manifest).get("files") or {}
    except (ValueError, AttributeError, RecursionError):
        return  # load_bundle names what is wrong with the manifest itself
    for name, digest in files.items() if isinstance(files, dict) else ():
        path = os.path.join(staging, *str(name).split("/"))
        if not os.path.isfile(path) or sha256_file(path) != digest:
            raise BundleError(
                f"Every bundle file to match the sha256 in {MANIFEST}",
                f"'{name}' of '{what}' is missing or differs (this copy is not kept)",
                "upload the bundle again as 'sentiscore export' wrote it, then rerun",
            )


def _write(files: dict, into: str) -> int:
    for rel, data in files.items():
        if rel != MANIFEST:
            target = os.path.join(into, *rel.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
    return sum(len(d) for d in files.values())


def _reach(uri: str):
    try:
        return filesystem_of(uri)
    except (OSError, ValueError) as exc:
        raise BundleError(
            "--model to be 'default', a bundle directory or a bundle URI pyarrow can reach",
            f"'{uri}': {first_line(exc)}",
            "check the URI and the credentials",
        ) from exc


def _read(filesystem, path: str, uri: str) -> bytes:
    try:
        with filesystem.open_input_stream(path, compression=None) as f:
            return f.read()
    except FileNotFoundError as exc:
        raise BundleError(
            f"A {MANIFEST} under the bundle URI",
            f"no '{path}' ('{uri}'; a missing bucket reads the same)",
            "point --model at the directory 'sentiscore export' wrote, copied as a whole",
        ) from exc
    except OSError as exc:
        raise BundleError(
            "A bundle URI that can be read with these credentials",
            f"'{uri}': {first_line(exc)}",
            "check the URI, the credentials and the network",
        ) from exc


def _download(filesystem, root: str, into: str, uri: str) -> int:
    """Copy every file under ``root`` into the directory ``into``; return the bytes copied."""
    from pyarrow import fs

    infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    total = 0
    for info in infos:
        if not info.is_file or info.path == f"{root}/{MANIFEST}":
            continue
        rel = info.path[len(root) :].lstrip("/")
        target = os.path.join(into, *rel.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            with filesystem.open_input_stream(info.path, compression=None) as src:
                with open(target, "wb") as dst:
                    while chunk := src.read(8 << 20):
                        dst.write(chunk)
                        total += len(chunk)
        except OSError as exc:
            raise BundleError(
                "Every file of the bundle readable",
                f"'{rel}' of '{uri}': {first_line(exc)}",
                "check the URI, the credentials and the network",
            ) from exc
    return total
