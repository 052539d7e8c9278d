"""URIs of object stores: which pyarrow file system serves a URI, and the path in it.

One file system is made per bucket (S3, GCS) or per storage account (Azure) and reused, so
credentials and connections are not set up again for every file. Options pyarrow's own URI
parser lacks are read here: ``gs://...?anonymous=true`` (public buckets, emulators), and for
Azure (``az://container/path``, ``abfs[s]://container@account.dfs.core.windows.net/path``) the
account key from ``AZURE_STORAGE_ACCOUNT_KEY`` and emulator endpoints from the query
(``?blob_storage_authority=127.0.0.1:10000&dfs_storage_authority=...&enable_tls=false``).
Reading and writing files is the readers' and writers' business.
"""

from __future__ import annotations

import functools
import os
from urllib.parse import parse_qsl, urlsplit

AZURE_SCHEMES = ("az", "abfs", "abfss")


def is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def bare(path: str) -> str:
    """``path`` without a URI's query string (``?endpoint_override=...``)."""
    return path.split("?", 1)[0] if is_uri(path) else path


def split_query(uri: str) -> tuple[str, str]:
    """(``uri`` without its query, the query with its '?', or '')."""
    base = bare(uri)
    return base, uri[len(base) :]


def child_uri(spec: str, fs_path: str) -> str:
    """The URI of ``fs_path`` (a path in ``spec``'s file system: bucket/key), written like
    ``spec`` (same scheme, account and query)."""
    parts = urlsplit(spec)
    bucket = parts.netloc.split("@", 1)[0]
    rest = fs_path[len(bucket) :].lstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{rest}{query}"


def filesystem_of(uri: str):
    """(pyarrow file system, path in it) for a URI."""
    parts = urlsplit(uri)
    query = f"?{parts.query}" if parts.query else ""
    if parts.scheme in ("s3", "gs", "gcs", *AZURE_SCHEMES) and parts.netloc:
        bucket, _, host = parts.netloc.partition("@")
        root = f"{parts.scheme}://{host}{query}"  # Azure: one per account; else per bucket
        if parts.scheme not in AZURE_SCHEMES:
            root = f"{parts.scheme}://{bucket}{query}"
        return _root_filesystem(root, _settings(parts.scheme)), bucket + parts.path
    from pyarrow import fs

    return fs.FileSystem.from_uri(uri)


def on_filesystem(paths: list[str]) -> tuple[object, list[str]]:
    """(pyarrow file system, paths in it) for URIs, with sentiscore's per-bucket file systems
    (so that ?endpoint_override= and the like work as in the local engine); (None, paths)
    for local paths."""
    if not any(is_uri(p) for p in paths):
        return None, list(paths)
    located = [filesystem_of(p) for p in paths]
    return located[0][0], [path for _, path in located]


# Environment settings a file system is built from: a changed endpoint or key (rotated
# credentials in a long-lived process) gets a new file system, not a cached stale one.
SETTINGS_ENV = {
    "s3": ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"),
    "gs": ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"),
}


def _settings(scheme: str) -> tuple:
    names = SETTINGS_ENV.get("gs" if scheme == "gcs" else scheme, ())
    return tuple(os.environ.get(n) for n in names)


@functools.lru_cache(maxsize=64)
def _root_filesystem(root: str, settings: tuple = ()):
    """A file system per root and environment settings (``settings`` is only a cache key)."""
    from pyarrow import fs

    scheme, _, rest = root.partition("://")
    host, _, query = rest.partition("?")
    params = dict(parse_qsl(query))
    if scheme in AZURE_SCHEMES:
        return _azure(host, params)
    if scheme in ("gs", "gcs") and params.get("anonymous", "").lower() in ("1", "true", "yes"):
        # public buckets (and emulators): pyarrow's URI parser has no 'anonymous' option
        return fs.GcsFileSystem(
            anonymous=True,
            endpoint_override=params.get("endpoint_override"),
            scheme=params.get("scheme", "https"),
        )
    return fs.FileSystem.from_uri(root)[0]


def _azure(host: str, params: dict):
    """An AzureFileSystem: the account from the URI's host (account.dfs.core.windows.net) or
    AZURE_STORAGE_ACCOUNT_NAME; the key from AZURE_STORAGE_ACCOUNT_KEY, else Azure's default
    credentials (managed identity, environment, CLI login)."""
    from pyarrow import fs

    from sentiscore.errors import ConfigError

    account = host.split(".", 1)[0] if host else os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
    if not account:
        raise ConfigError(
            "An Azure storage account",
            "none in the URI and AZURE_STORAGE_ACCOUNT_NAME is not set",
            "write abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH, or set "
            "AZURE_STORAGE_ACCOUNT_NAME for az://CONTAINER/PATH",
        )
    scheme = "http" if params.get("enable_tls", "").lower() in ("0", "false", "no") else "https"
    options = {"account_key": os.environ.get("AZURE_STORAGE_ACCOUNT_KEY") or None}
    for kind in ("blob", "dfs"):
        if params.get(f"{kind}_storage_authority"):
            options[f"{kind}_storage_authority"] = params[f"{kind}_storage_authority"]
            options[f"{kind}_storage_scheme"] = scheme
    return fs.AzureFileSystem(account_name=account, **options)
