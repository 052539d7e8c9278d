"""Writers: one output part per input chunk, each renamed into place atomically.

``PartWriter`` writes a RecordBatch list to ``part-NNNNN.parquet`` via a temporary file and
``os.replace``, and records it with its checksum in a ledger, so that a part is either whole
and recorded or scored again (the basis of ``--resume``).
``concat_parts`` streams the parts into the final file, again through a temporary name; when
the disk has no room for a second copy of the rows, each part is deleted once it is copied.
How CSV and JSON Lines hold values they have no type for is ``encode``'s business.
What goes into the batches, and the resume manifest, are the scorer's business.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable

import pyarrow as pa

from sentiscore.choices import OUTPUT_FORMATS
from sentiscore.errors import ConfigError
from sentiscore.io.encode import csv_schema, for_csv, json_lines

log = logging.getLogger(__name__)
_EXT = {"parquet": ".parquet", "csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl"}


def output_format(path: str, explicit: str | None = None) -> str:
    """The output format: the explicit one, else from the extension, else Parquet."""
    if explicit:
        if explicit not in OUTPUT_FORMATS:
            raise ConfigError(
                f"--format to be one of {', '.join(OUTPUT_FORMATS)}",
                f"'{explicit}'",
                "pick one of those",
            )
        fmt = explicit
    else:
        from sentiscore.io.listing import detect_format, is_tsv
        from sentiscore.io.uris import bare

        name = bare(path).rstrip("/").rsplit("/", 1)[-1].lower().removesuffix(".gz")
        fmt = "tsv" if is_tsv(path) else detect_format(path)
        if fmt not in OUTPUT_FORMATS:
            if "." in name.lstrip("."):
                raise ConfigError(
                    "An output name ending in .parquet, .csv, .tsv or .jsonl (.gz for text)",
                    f"'{path}'",
                    "rename the output, or pass --format parquet|csv|tsv|jsonl",
                )
            fmt = "parquet"  # no extension at all: Parquet, as documented
    if fmt == "parquet" and path.split("?", 1)[0].lower().endswith(".gz"):
        raise ConfigError(
            "A Parquet output name without .gz (Parquet compresses inside the file)",
            f"'{path}'",
            "drop .gz, or write .csv.gz / .jsonl.gz",
        )
    return fmt


def extension(fmt: str) -> str:
    return _EXT[fmt]


def _text_sink(path: str, name: str):
    """A file sink for CSV/JSONL: gzip when ``name`` ends in .gz."""
    if name.lower().endswith(".gz"):
        return pa.CompressedOutputStream(path, "gzip")
    return pa.OSFile(path, "wb")


def _write_file(
    path: str, batches: Iterable[pa.RecordBatch], fmt: str, schema: pa.Schema, name: str
) -> int:
    """Write to ``path``; ``name`` (the final file name) picks gzip (.gz) and tabs (.tsv)."""
    rows = 0
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, schema, compression="zstd") as w:
            for b in batches:
                w.write_batch(b)
                rows += b.num_rows
    elif fmt in ("csv", "tsv"):
        from pyarrow import csv

        from sentiscore.io.listing import is_tsv

        opts = csv.WriteOptions(delimiter="\t" if fmt == "tsv" or is_tsv(name) else ",")
        with (
            _text_sink(path, name) as sink,
            csv.CSVWriter(sink, csv_schema(schema), write_options=opts) as w,
        ):
            for b in batches:
                w.write_batch(for_csv(b))
                rows += b.num_rows
    else:
        with _text_sink(path, name) as sink:
            for b in batches:
                sink.write(json_lines(b))
                rows += b.num_rows
    return rows


class StreamWriter:
    """Writes batches to a binary stream as they come (stdout for ``-o -``), flushing after
    each: CSV/TSV with one header, JSON Lines, or Parquet (footer at ``close``)."""

    def __init__(self, sink, fmt: str):
        if fmt not in OUTPUT_FORMATS:
            raise ConfigError(
                f"--format to be one of {', '.join(OUTPUT_FORMATS)}", f"'{fmt}'", "pick one"
            )
        self.sink, self.fmt, self.header, self.parquet = sink, fmt, True, None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.fmt in ("csv", "tsv"):
            from pyarrow import csv

            opts = csv.WriteOptions(
                include_header=self.header, delimiter="\t" if self.fmt == "tsv" else ","
            )
            csv.write_csv(for_csv(batch), self.sink, write_options=opts)
            self.header = False
        elif self.fmt == "jsonl":
            self.sink.write(json_lines(batch))
        else:
            import pyarrow.parquet as pq

            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.sink, batch.schema, compression="zstd")
            self.parquet.write_table(pa.Table.from_batches([batch]).cast(self.parquet.schema))
        self.sink.flush()

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        self.sink.flush()


def atomic_write(path: str, batches: Iterable[pa.RecordBatch], fmt: str, schema: pa.Schema) -> int:
    """Write ``batches`` to ``path`` through ``path + '.tmp'`` and an atomic rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        rows = _write_file(tmp, batches, fmt, schema, os.path.basename(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return rows


LEDGER_NAME = "parts.jsonl"


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class PartWriter:
    """Writes numbered Parquet parts into ``parts_dir`` and records each one, after its atomic
    rename, in a ledger (``parts.jsonl``: index, first row, rows, sha256). On opening, a part counts as
    done only when the ledger lists it and its checksum matches; any other file named like a
    part (truncated, foreign, stray, or written just before a kill) is removed, so that it is
    scored again."""

    def __init__(self, parts_dir: str):
        self.parts_dir = parts_dir
        os.makedirs(parts_dir, exist_ok=True)
        self.ledger = os.path.join(parts_dir, LEDGER_NAME)
        self.verified: dict[int, dict] = {}
        self._verify()

    def _verify(self) -> None:
        listed = {}
        if os.path.exists(self.ledger):
            with open(self.ledger, encoding="utf-8") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                        listed[int(entry["index"])] = entry
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a kill
        for name in sorted(os.listdir(self.parts_dir)):
            if not name.startswith("part-"):
                continue
            path = os.path.join(self.parts_dir, name)
            entry = listed.get(_index_of(name))
            if entry and name == os.path.basename(self.path(entry["index"])):
                if sha256_file(path) == entry["sha256"]:
                    self.verified[entry["index"]] = entry
                    continue
            log.warning("%s is not a recorded, intact part: removed, it is scored again", path)
            os.remove(path)

    def path(self, index: int) -> str:
        # Parts are always Parquet: lossless and typed. The final file takes the user's format.
        return os.path.join(self.parts_dir, f"part-{index:06d}.parquet")

    def write(self, index: int, batch: pa.RecordBatch, offset: int = 0) -> None:
        """Write part ``index`` holding the job's rows from ``offset`` on."""
        path = self.path(index)
        atomic_write(path, [batch], "parquet", batch.schema)
        entry = {
            "index": index,
            "offset": offset,
            "rows": batch.num_rows,
            "sha256": sha256_file(path),
        }
        with open(self.ledger, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.verified[index] = entry

    def resume_point(self) -> tuple[int, int]:
        """(next part index, rows done): the parts that cover the job's rows from 0 without
        a gap are kept; any after a gap are removed, to be scored again."""
        index, rows = 0, 0
        for i in sorted(self.verified):
            entry = self.verified[i]
            if i == index and entry.get("offset", rows) == rows:
                index, rows = index + 1, rows + entry["rows"]
                continue
            log.warning("%s follows a gap: removed, it is scored again", self.path(i))
            os.remove(self.path(i))
            del self.verified[i]
        return index, rows

    def rows(self) -> int:
        return sum(e["rows"] for e in self.verified.values())

    def parts(self) -> list[str]:
        return [self.path(i) for i in sorted(self.verified)]


def _index_of(name: str) -> int:
    try:
        return int(name.removeprefix("part-").split(".", 1)[0])
    except ValueError:
        return -1


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with ``schema``'s columns, by name: cast where types were promoted, nulls
    where an input lacked a column (inputs with different columns into one output)."""
    cols = [
        batch.column(f.name).cast(f.type)
        if f.name in batch.schema.names
        else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


# Final file size per byte of (zstd Parquet) parts, by output format, for the disk check.
_GROWTH = {"parquet": 1.1, "gz": 1.5, "text": 6.0}
DISK_MARGIN = 64 << 20


def room_for_copy(part_paths: list[str], out_path: str, fmt: str) -> bool:
    """Whether the output's disk can hold the final file while every part is still there."""
    parts = sum(os.path.getsize(p) for p in part_paths)
    kind = "parquet" if fmt == "parquet" else "gz" if out_path.endswith(".gz") else "text"
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(out_path))).free
    return free >= parts * _GROWTH[kind] + DISK_MARGIN


def concat_parts(
    part_paths: list[str], out_path: str, fmt: str, metadata: dict | None = None
) -> int:
    """Stream the parts, in order, into one file at ``out_path`` (atomically); ``metadata``
    goes into a Parquet file's key-value metadata.

    Parts may differ in inferred types (a JSONL block of nulls, say); they are unified first.
    When the disk cannot hold the final file next to the parts, each part is deleted as soon
    as it is copied, so the rows never take twice the space (a crash in this step then costs
    a re-score of the deleted parts on --resume, never a wrong output).
    """
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(p) for p in part_paths]
    schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
    if metadata and fmt == "parquet":
        schema = schema.with_metadata(metadata)
    parent = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(parent, exist_ok=True)
    consume = not room_for_copy(part_paths, out_path, fmt)
    if consume:
        log.info("little free disk: each part is deleted as soon as it is in %s", out_path)

    def batches():
        for p in part_paths:
            for b in pq.ParquetFile(p).iter_batches(batch_size=8192):
                yield b if b.schema.equals(schema) else conform(b, schema)
            if consume:
                os.remove(p)

    return atomic_write(out_path, batches(), fmt, schema)
