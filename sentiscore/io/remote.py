"""Outputs on object storage (s3://, gs://, ...): existence, deletion, the manifest a finished
Parquet object carries, and upload. Object stores have no rename, but an object written with
one upload appears only once complete, so a scored file is built locally (in a staging
directory that also keeps the parts for --resume) and uploaded in one piece at the end:
readers never see a partial object. Deciding what to write is ``infer.outputs``'s business.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time

from sentiscore.errors import first_line
from sentiscore.io.uris import filesystem_of

log = logging.getLogger(__name__)
STAGING_ENV = "SENTISCORE_STAGING"
UPLOAD_ATTEMPTS = 4  # a dropped connection or a throttled request is tried again
RETRY_WAIT_S = 1.0  # doubled after each failed attempt: 1 + 2 + 4 s at most
# Refusals that another attempt cannot change: credentials, permissions, a missing bucket.
PERMANENT = (
    "ACCESS_DENIED",
    "AccessDenied",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "NO_SUCH_BUCKET",
    "ExpiredToken",
)


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
    """Copy ``local`` to ``uri`` in one upload (the object appears only when complete),
    trying again after a transient failure; a refusal (credentials, permissions) is raised
    at once. The caller keeps ``local`` for --resume when it raises."""
    wait = RETRY_WAIT_S
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            return _upload_once(local, uri)
        except OSError as exc:
            if attempt == UPLOAD_ATTEMPTS or any(p in str(exc) for p in PERMANENT):
                raise
            log.warning(
                "upload to %s failed (%s); retrying in %.0f s (%d/%d)",
                uri,
                first_line(exc),
                wait,
                attempt,
                UPLOAD_ATTEMPTS - 1,
            )
            time.sleep(wait)
            wait *= 2


def _upload_once(local: str, uri: str) -> None:
    filesystem, path = filesystem_of(uri)
    with open(local, "rb") as src, filesystem.open_output_stream(path, compression=None) as dst:
        shutil.copyfileobj(src, dst, 8 << 20)
