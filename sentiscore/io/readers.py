"""Streaming readers: turn user-given inputs into bounded pyarrow RecordBatches.

Makes ``InputFile``s of what ``listing`` finds (files, directories, globs, URIs; Parquet,
CSV/TSV with optional .gz, JSONL/NDJSON, .txt with one text per line in a column named
``text``), sniffs a CSV's delimiter (';' or tab) when the header leaves no doubt, and yields
record batches of bounded size. It knows nothing about models or scoring; text-column checks and
per-row errors belong to ``sentiscore.infer``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pyarrow as pa

from sentiscore.errors import InputDataError, first_line
from sentiscore.io.inputs import InputFile, file_version  # noqa: F401 - API
from sentiscore.io.listing import FORMATS, detect_format, expand, is_tsv  # noqa: F401 - API
from sentiscore.io.streams import numbered_lines, open_stream
from sentiscore.io.uris import filesystem_of, is_uri

log = logging.getLogger(__name__)


# The CLI spools stdin into a temporary directory named with this prefix.
STDIN_SPOOL = "sentiscore-stdin-"


def display_name(path: str) -> str:
    """How an input is named to the user: '<stdin>' for the CLI's spooled copy of stdin."""
    return "<stdin>" if os.path.basename(os.path.dirname(path)).startswith(STDIN_SPOOL) else path


def _make_input(path: str, delimiter: str | None, text_column: str | None = None) -> InputFile:
    fmt = detect_format(path)
    if fmt is None:
        raise InputDataError(
            "Input files must end in .parquet, .csv, .tsv, .jsonl, .ndjson or .txt (optionally .gz)",
            f"'{path}'",
            "rename the file or convert it to one of these formats",
        )
    if fmt != "csv":
        return InputFile(path, fmt, text_column=text_column)
    if not delimiter:
        delimiter = "\t" if is_tsv(path) else _sniff_delimiter(path)
    return InputFile(path, fmt, delimiter, text_column)


def _sniff_delimiter(path: str) -> str:
    """',' unless the header line has no comma (outside quotes) and exactly one of ';' and
    tab: then that one."""
    try:
        with open_stream(path) as f:
            head = f.read(1 << 16)
    except (OSError, pa.ArrowInvalid):
        return ","  # unreadable files fail later with a proper message
    line, quoted = [], False
    for ch in head.decode("utf-8", errors="replace"):
        if ch == '"':
            quoted = not quoted
        elif ch == "\n" and not quoted:
            break
        elif not quoted:
            line.append(ch)
    found = [d for d in (",", ";", "\t") if d in line]
    if found in ([";"], ["\t"]):
        log.info(
            "'%s': header has no ',' but %r: reading it as %r-separated", path, found[0], found[0]
        )
        return found[0]
    return ","


def discover_inputs(
    specs: list[str] | tuple[str, ...],
    delimiter: str | None = None,
    text_column: str | None = None,
) -> list[InputFile]:
    """Expand files, directories and globs into a sorted, de-duplicated list of inputs
    (``text_column``: the column CSV readers keep as strings)."""
    if not specs:
        raise InputDataError(
            "At least one INPUT file, directory or glob", "none", "pass e.g. reviews.parquet"
        )
    paths: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        found = expand(str(spec))
        if not found:
            raise InputDataError(
                "INPUT to match at least one .parquet/.csv/.tsv/.jsonl file",
                f"nothing matched '{spec}'",
                "check the pattern or directory",
            )
        for p in found:
            if p not in seen:
                seen.add(p)
                paths.append(p)
    return map_inputs(lambda p: _make_input(p, delimiter, text_column), paths)


# Threads for per-file metadata (schemas, row counts, fingerprints): object stores answer
# each request in milliseconds, so 10,000 inputs are read in parallel, not one by one.
METADATA_THREADS = {"local": 8, "remote": 32}


def map_inputs(fn: Callable, inputs: list) -> list:
    """``[fn(i) for i in inputs]`` (InputFiles or paths), run on a thread pool when there are
    several inputs (the first error, in input order, is raised)."""
    if len(inputs) < 4:
        return [fn(i) for i in inputs]
    remote = any(is_uri(getattr(i, "path", i)) for i in inputs)
    workers = min(len(inputs), METADATA_THREADS["remote" if remote else "local"])
    with ThreadPoolExecutor(workers, thread_name_prefix="sentiscore-meta") as pool:
        return list(pool.map(fn, inputs))


def parquet_metadata(inp: InputFile):
    """A Parquet file's footer (schema, row count, row groups), read once per file version."""
    return _parquet_metadata(file_version(inp))


@functools.lru_cache(maxsize=1 << 14)
def _parquet_metadata(version: tuple):
    import pyarrow.parquet as pq

    with _open_parquet(version[0]) as f:
        return pq.ParquetFile(f).metadata


# read_ahead: remote Parquet files up to this size are fetched whole, this many ahead.
AHEAD_BYTES = 8 << 20
AHEAD_FILES = 16


def read_ahead(inputs: list[InputFile]) -> Iterator[InputFile]:
    """Yield ``inputs`` in order, with small remote Parquet files already fetched (a pool
    downloads the next ``AHEAD_FILES`` while the current one is scored), so that 10,000
    objects do not cost 10,000 round trips one after another. Others pass through."""
    if not any(is_uri(i.path) and i.format == "parquet" for i in inputs):
        yield from inputs
        return
    pool = ThreadPoolExecutor(METADATA_THREADS["remote"], thread_name_prefix="sentiscore-ahead")
    try:
        pending = [pool.submit(_fetch_small, i) for i in inputs[:AHEAD_FILES]]
        for n in range(len(inputs)):
            if n + AHEAD_FILES < len(inputs):
                pending.append(pool.submit(_fetch_small, inputs[n + AHEAD_FILES]))
            yield pending[n].result()
            pending[n] = None  # the fetched bytes go once the file is read
    finally:  # stopped early (--limit, an error, Ctrl-C): fetch nothing more
        pool.shutdown(wait=True, cancel_futures=True)


def _fetch_small(inp: InputFile) -> InputFile:
    if not (is_uri(inp.path) and inp.format == "parquet"):
        return inp
    try:
        with _open_parquet(inp) as f:
            if f.size() > AHEAD_BYTES:
                return inp
            return replace(inp, data=f.read())
    except OSError:
        return inp  # read again where it is scored, which reports the error


def count_rows(inp: InputFile) -> int | None:
    """Row count from metadata when cheap (Parquet); None otherwise."""
    if inp.format != "parquet":
        return None
    try:
        return parquet_metadata(inp).num_rows
    except Exception:  # noqa: BLE001 - unreadable files fail later with a proper message
        return None


def read_schema(inp: InputFile) -> pa.Schema:
    """Schema of the input: the footer for Parquet, the first block for CSV/JSONL."""
    wanted = "An input with at least one row" + (
        " under its header" if inp.format in ("csv", "tsv") else ""
    )
    if inp.data is None and not is_uri(inp.path) and _size(inp.path) == 0:
        raise InputDataError(wanted, f"'{inp.path}' is empty (0 bytes)", EMPTY_FIX)
    if inp.format == "parquet":
        try:
            meta = parquet_metadata(inp)
            if meta.num_rows:
                return meta.schema.to_arrow_schema()
        except (pa.ArrowInvalid, OSError):
            pass  # iter_batches below raises the proper one-line error (or "is empty")
    try:
        for batch in iter_batches(inp, batch_rows=16):
            return batch.schema
    except InputDataError as exc:  # pyarrow's words for a file of blank lines
        if not any(w in str(exc.found) for w in ("Empty JSON stream", "Empty CSV file")):
            raise
    raise InputDataError(wanted, f"'{inp.path}' has no rows", EMPTY_FIX)


EMPTY_FIX = "check the file, or leave it out of the inputs"


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path) if os.path.isfile(path) else None
    except OSError:
        return None


# Parquet is read in batches of about this many (uncompressed) bytes at most.
BATCH_BYTES = 8 << 20


def iter_batches(
    inp: InputFile, batch_rows: int = 8192, row_groups: list[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """Yield record batches of at most ``batch_rows`` rows, in file order; ``row_groups``:
    only these row groups of a Parquet file (the others are not read)."""
    try:
        if inp.format == "parquet":
            yield from _iter_parquet(inp, batch_rows, row_groups)
        elif inp.format == "csv":
            from sentiscore.io.csvread import iter_csv

            yield from iter_csv(inp, batch_rows)
        elif inp.format == "txt":
            yield from _iter_txt(inp, batch_rows)
        else:
            from sentiscore.io.jsonlread import iter_jsonl

            yield from iter_jsonl(inp, batch_rows)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        first = first_line(exc)
        fix = "check the file's encoding (UTF-8) and format"
        if is_uri(inp.path) and type(exc) in (OSError, FileNotFoundError, PermissionError):
            fix = "check the URI, the credentials and the network (of every worker)"
        raise InputDataError(
            f"A readable {inp.format} file", f"'{inp.path}': {first}", fix
        ) from exc


def _open_parquet(inp: InputFile):
    """Parquet needs random access (the footer first): a seekable file, local or remote."""
    if inp.data is not None:
        return pa.BufferReader(inp.data)
    if is_uri(inp.path):
        filesystem, path = filesystem_of(inp.path)
        return filesystem.open_input_file(path)
    return pa.OSFile(inp.path, "rb")


def _iter_parquet(inp: InputFile, batch_rows: int, row_groups=None) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    with _open_parquet(inp) as f:
        pf = pq.ParquetFile(f)
        meta = pf.metadata
        row_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if meta.num_rows and row_bytes:  # batches of about BATCH_BYTES, not 8192 huge rows
            per_row = row_bytes / meta.num_rows
            batch_rows = max(1, min(batch_rows, int(BATCH_BYTES / per_row)))
        # One row group at a time: pyarrow would otherwise fetch every requested row group of
        # a remote file up front (the whole object in memory, and a store that goes away
        # mid-run would go unnoticed until the end).
        for rg in range(meta.num_row_groups) if row_groups is None else row_groups:
            yield from pf.iter_batches(batch_size=batch_rows, row_groups=[rg])


def _iter_txt(inp: InputFile, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """One text per line (a trailing '\r' is dropped), in a column named ``text``. A blank line
    is a row too (the scorer marks it ``text is empty``); the final newline ends the last row."""
    texts: list[str] = []
    for number, raw in numbered_lines(inp.path):
        try:
            texts.append(raw.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputDataError(
                "Text encoded as UTF-8",
                f"undecodable bytes in '{inp.path}' at line {number}",
                "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
            ) from exc
        if len(texts) == batch_rows:
            yield pa.record_batch({"text": pa.array(texts, type=pa.string())})
            texts = []
    if texts:
        yield pa.record_batch({"text": pa.array(texts, type=pa.string())})


def fingerprint(inp: InputFile) -> dict:
    """A cheap identity of an input: size, mtime and a hash of its first and last 64 KiB."""
    if is_uri(inp.path):
        filesystem, path = filesystem_of(inp.path)
        info = filesystem.get_file_info(path)
        return {"path": inp.path, "size": info.size, "mtime": str(info.mtime)}
    st = os.stat(inp.path)
    h = hashlib.sha256()
    with open(inp.path, "rb") as f:
        h.update(f.read(1 << 16))
        if st.st_size > 1 << 16:
            f.seek(max(st.st_size - (1 << 16), 1 << 16))
            h.update(f.read())
    return {
        "path": os.path.abspath(inp.path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256_ends": h.hexdigest(),
    }
