"""One input file as every reader sees it (``InputFile``), and the cache key of its contents.
A leaf of ``io``: the format readers (``csvread``, ``jsonlread``) and ``readers``, which
dispatches to them, all import it, so none of them imports another in a circle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sentiscore.io.uris import bare, is_uri


@dataclass(frozen=True)
class InputFile:
    """One input file: its path/URI, format and (for CSV) delimiter and text column."""

    path: str
    format: str
    delimiter: str = ","
    text_column: str | None = None  # the column to be scored, when the caller named one
    # A small remote Parquet file fetched ahead by ``read_ahead`` (not part of its identity).
    data: bytes | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def stem(self) -> str:
        name = bare(self.path).rstrip("/").rsplit("/", 1)[-1]
        if name.endswith(".gz"):
            name = name[:-3]
        return name.rsplit(".", 1)[0] if "." in name else name


def file_version(inp: InputFile) -> tuple:
    """A cache key that changes when a local file changes (path, size, mtime); the path
    alone for remote files. Whole-file passes (CSV and JSONL typing) are cached by it."""
    if is_uri(inp.path):
        return (inp,)
    st = os.stat(inp.path)
    return (inp, st.st_size, st.st_mtime_ns)
