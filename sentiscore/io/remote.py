"""Outputs on object storage (s3://, gs://, ...): existence, deletion, the manifest a finished
Parquet object carries, and upload. Object stores have no rename, but an object written with
one upload appears only once complete, so a scored file is built locally (in a staging
directory that also keeps the parts for --resume) and uploaded in one piece at the end:
readers never see a partial object. Deciding what to write is ``infer.outputs``'s business.
"""

from __future__ import annotations

import hashlib
import os
import shutil

from sentiscore.io.uris import filesystem_of

STAGING_ENV = "SENTISCORE_STAGING"


def is_remote(path: str | None) -> bool:
    return bool(path) and "://" in path and not path.startswith("file://")


def staging_path(uri: str) -> str:
    """Where the object at ``uri`` is built locally (and its parts kept for --resume):
    $SENTISCORE_STAGING, else ~/.cache/sentiscore/staging, in a folder named by the URI."""
    root = os.environ.get(STAGING_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "sentiscore", "staging"
    )
    key = hashlib.sha256(uri.encode()).hexdigest()[:16]
    return os.path.join(root, key, uri.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])


def exists(uri: str) -> bool:
    from pyarrow import fs

    filesystem, path = filesystem_of(uri)
    return filesystem.get_file_info(path).type == fs.FileType.File


def delete(uri: str) -> None:
    filesystem, path = filesystem_of(uri)
    filesystem.delete_file(path)


def open_input(uri: str):
    filesystem, path = filesystem_of(uri)
    return filesystem.open_input_file(path)


def upload(local: str, uri: str) -> None:
    """Copy ``local`` to ``uri`` in one upload (the object appears only when complete)."""
    filesystem, path = filesystem_of(uri)
    with open(local, "rb") as src, filesystem.open_output_stream(path, compression=None) as dst:
        shutil.copyfileobj(src, dst, 8 << 20)
