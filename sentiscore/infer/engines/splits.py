"""An engine job as splits that each worker reads, scores and writes itself (``--engine ray``
and ``--engine spark``).

The driver plans splits over the inputs; a worker reads its split with sentiscore's own
readers and pyarrow file systems (so object stores need no Hadoop connector, and CSV and JSONL
columns get exactly the local engine's types), scores it with its cached scorer, and writes
``part-NNNNN.parquet``. Names are deterministic: a retried or rerun split rewrites the same
part. A part appears whole or not at all (a local file is written beside and renamed, an
object is uploaded in one piece), and a worker returns the part's name and rows; committing the
directory with ``_SUCCESS`` is ``engines.run``'s business, the scorer's logic ``scorer``'s.

A file is divided between splits when there are fewer files than twice the task slots:
split ``j`` of ``k`` takes the ``j``-th contiguous run of its rows (whole row groups when a
Parquet file has at least ``k`` of them, and only the row groups that hold its rows in any
case), so that parts read in name order are the input in input order. A CSV or JSONL file's
rows are counted on the driver for that (a read, not a scoring, pass); each split of it reads
the file up to its last row. Many small files are grouped into one split instead, in order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import pyarrow as pa

from sentiscore.errors import SentiscoreError
from sentiscore.io.readers import InputFile, iter_batches
from sentiscore.io.uris import is_uri

# A file is divided into runs of at least this many rows.
MIN_RUN_ROWS = 16


@dataclass(frozen=True)
class Piece:
    """Rows ``start`` to ``stop`` (exclusive; None: to the end) of ``file``, in file order.
    ``groups``: a Parquet file's row groups that hold them (only those are read), the first
    of which starts at row ``first``."""

    file: InputFile
    start: int = 0
    stop: int | None = None
    groups: tuple[int, ...] | None = None
    first: int = 0
    source: str = ""  # the input as the user named it (``file.path`` is absolute)


@dataclass(frozen=True)
class Split:
    index: int
    pieces: tuple[Piece, ...]
    limit: int | None = None  # rows at most (--limit), from the start of the pieces

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}.parquet"


def plan(files: list[InputFile], slots: int, limit: int | None = None) -> list[Split]:
    """Splits over ``files`` for ``slots`` tasks at once, numbered in input order: at least
    two per slot when files are few, at most four per slot when they are many. ``limit``: one
    split of the first ``limit`` rows."""
    # no fetched bytes; local paths absolute (the workers may run in another directory)
    given = [(replace(f, path=f.path if is_uri(f.path) else os.path.abspath(f.path), data=None),
              f.path) for f in files]  # fmt: skip
    if limit:
        return [Split(0, tuple(Piece(f, source=n) for f, n in given), limit)]
    want = 2 * max(1, slots)
    if len(given) < want:
        k = -(-want // len(given))
        pieces = [replace(p, source=n) for f, n in given for p in _runs(f, k)]
        return [Split(i, (p,)) for i, p in enumerate(pieces)]
    groups = min(len(given), 4 * max(1, slots))
    per = -(-len(given) // groups)
    chunks = [given[i : i + per] for i in range(0, len(given), per)]
    return [Split(i, tuple(Piece(f, source=n) for f, n in chunk)) for i, chunk in enumerate(chunks)]


def _runs(f: InputFile, k: int) -> list[Piece]:
    """``f`` as at most ``k`` contiguous runs of rows, in file order (whole row groups when
    a Parquet file has at least ``k``)."""
    from sentiscore.io.readers import count_rows, parquet_metadata

    n = count_rows(f)
    if n is None:
        n = sum(b.num_rows for b in iter_batches(f, 1 << 16))
    k = max(1, min(k, n // MIN_RUN_ROWS))
    if k == 1:
        return [Piece(f)]
    starts = [0]  # the row each Parquet row group starts at (one group for other formats)
    if f.format == "parquet":
        meta = parquet_metadata(f)
        for i in range(meta.num_row_groups):
            starts.append(starts[-1] + meta.row_group(i).num_rows)
    cuts = [n * j // k for j in range(k + 1)]
    if len(starts) > k:  # cut at the row group boundaries nearest the even cuts
        cuts = sorted({min(starts, key=lambda s, c=c: abs(s - c)) for c in cuts})
    return [_piece(f, a, b, starts) for a, b in zip(cuts, cuts[1:]) if b > a]


def _piece(f: InputFile, start: int, stop: int, starts: list[int]) -> Piece:
    if f.format != "parquet":
        return Piece(f, start, stop)
    held = [g for g in range(len(starts) - 1) if starts[g] < stop and starts[g + 1] > start]
    return Piece(f, start, stop, tuple(held), starts[held[0]])


def run_split(split: Split, job: dict) -> dict:
    """Score ``split`` and write its part; return ``{"name", "rows", "errors", "error"}``:
    rows written, rows with an error column set, and ``error`` None or, when an input cannot
    be read, the SentiscoreError's parts as JSON (the driver raises it again; retrying would
    not help). ``job``: scorer (bundle, device, precision, threads, options), text, keep,
    prefix, in_schema, out_schema, output."""
    import json

    from sentiscore.infer.engines.worker import bundle_here, scorer_for

    where = bundle_here(job["bundle"])
    scorer = scorer_for(where, job["device"], job["precision"], job["threads"], **job["options"])
    args = (job["text"], job["keep"], job["prefix"])
    bad = [0]

    def scored():
        for batch in _batches(split, job["in_schema"], job.get("provenance", (None, None))):
            out = scorer.score_batch(batch, *args).cast(job["out_schema"])
            bad[0] += out.num_rows - out.column(f"{job['prefix']}error").null_count
            yield out

    try:
        rows = _write_part(scored(), job["out_schema"], job["output"], split.name)
    except SentiscoreError as exc:
        parts = {"kind": type(exc).__name__, "expected": exc.expected}
        error = json.dumps({**parts, "found": exc.found, "fix": exc.fix})
        return {"name": split.name, "rows": 0, "errors": 0, "error": error}
    return {"name": split.name, "rows": rows, "errors": bad[0], "error": None}


def _batches(split: Split, schema: pa.Schema, provenance: tuple = (None, None)):
    """The split's input rows as batches with the job's (unified) input schema, the
    provenance columns (source, row number; None each for none) added."""
    from sentiscore.infer.rows import add_provenance
    from sentiscore.io.writers import conform

    left = split.limit
    for piece in split.pieces:
        for row, batch in _piece_rows(piece):
            if left is not None:
                batch = batch.slice(0, left)
                left -= batch.num_rows
            if batch.num_rows:
                batch = add_provenance(batch, piece.source, row, *provenance)
                yield conform(batch, schema)
            if left == 0:
                return


def _piece_rows(piece: Piece):
    """(first row's number in the file, batch) of the piece's rows, in file order: the file
    (or its row groups) read up to ``stop``."""
    groups = list(piece.groups) if piece.groups is not None else None
    at = piece.first
    for batch in iter_batches(piece.file, 8192, row_groups=groups):
        lo, hi = max(piece.start - at, 0), batch.num_rows
        if piece.stop is not None:
            hi = min(hi, piece.stop - at)
        at += batch.num_rows
        if hi > lo:
            yield at - batch.num_rows + lo, batch.slice(lo, hi - lo)
        if piece.stop is not None and at >= piece.stop:
            return


def _write_part(batches, schema: pa.Schema, output: str, name: str) -> int:
    """Write the part ``name`` under ``output`` (a directory or a URI) whole or not at all."""
    from sentiscore.io.remote import is_remote, upload
    from sentiscore.io.uris import split_query
    from sentiscore.io.writers import atomic_write

    if not is_remote(output):
        scratch = os.path.join(output, "_temporary")
        os.makedirs(scratch, exist_ok=True)
        rows = atomic_write(os.path.join(scratch, name), batches, "parquet", schema)
        os.replace(os.path.join(scratch, name), os.path.join(output, name))
        return rows
    import tempfile

    base, query = split_query(output)
    with tempfile.TemporaryDirectory(prefix="sentiscore-part-") as tmp:
        rows = atomic_write(os.path.join(tmp, name), batches, "parquet", schema)
        upload(os.path.join(tmp, name), f"{base.rstrip('/')}/{name}{query}")
    return rows
