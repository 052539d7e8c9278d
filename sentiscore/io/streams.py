"""Byte streams of text inputs (CSV, JSONL, .txt): opening one (gunzipped once for .gz, local
or remote), its numbered lines, record batches re-cut to a row count, and pyarrow's block
readers with blocks that grow for long rows. Rows are bounded: a line or row longer than
``MAX_ROW_BYTES`` is a one-line error, never unbounded memory (a gzip bomb of one line).
Which format a file is, and its types, are the readers' business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa

from sentiscore.errors import InputDataError
from sentiscore.io.uris import bare, filesystem_of, is_uri

# The longest line or row read (a review this long is clipped to max_length tokens anyway).
MAX_ROW_BYTES = 64 << 20
FIRST_BLOCK = 1 << 20
CHUNK = 1 << 20


def open_stream(path: str):
    """A sequential stream of the file's bytes, gunzipped once for .gz (a remote file system is
    told not to decompress it as well)."""
    if is_uri(path):
        filesystem, inside = filesystem_of(path)
        stream = filesystem.open_input_stream(inside, compression=None)
    else:
        stream = pa.OSFile(path, "rb")
    if bare(path).lower().endswith(".gz"):
        stream = pa.CompressedInputStream(stream, "gzip")
    return stream


def numbered_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes without the newline) of the file, read in 1 MiB chunks."""
    with open_stream(path) as f:
        number, pending, size = 0, [], 0  # pieces of the line not yet ended
        while chunk := f.read(CHUNK):
            lines = chunk.split(b"\n")
            if len(lines) > 1:
                number += 1
                yield number, b"".join([*pending, lines[0]])
                for raw in lines[1:-1]:
                    number += 1
                    yield number, raw
                pending, size = [], 0
            pending.append(lines[-1])
            size += len(lines[-1])
            if size > MAX_ROW_BYTES:
                raise too_long(path, f"line {number + 1}")
        if size:
            yield number + 1, b"".join(pending)


def too_long(path: str, where: str) -> InputDataError:
    return InputDataError(
        f"Lines and rows of at most {MAX_ROW_BYTES >> 20} MiB",
        f"'{path}': {where} is longer",
        "split or shorten that text (only its first max_length tokens are scored anyway)",
    )


def rebatch(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def grown_blocks(path: str, open_reader: Callable) -> Iterator[pa.RecordBatch]:
    """The batches of ``open_reader(stream, block_size)`` (pyarrow's CSV or JSON reader) over
    the file. A row longer than a block makes pyarrow fail ("straddles two block
    boundaries"): the file is then read again with blocks 4x as large, skipping the rows
    already given, up to ``MAX_ROW_BYTES``."""
    block, given = FIRST_BLOCK, 0
    while True:
        skip = given
        try:
            with open_stream(path) as f:
                for batch in open_reader(f, block):
                    if skip >= batch.num_rows:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                    given += batch.num_rows
                    yield batch
            return
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            if block >= MAX_ROW_BYTES:
                raise too_long(path, f"the row after row {given}") from None
            block *= 4
