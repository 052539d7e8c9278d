"""Chunks: the input rows cut into the units the file pipeline scores and writes as parts.

``chunks`` joins record batches from the readers (``sentiscore.io``) into chunks bounded in rows
and input bytes, small inputs of one schema sharing a chunk, and says where each chunk's rows
come from (``Origin``, for --strict errors); ``PartSizer`` sizes them by the scoring rate
measured so far. Scoring the chunks and writing the parts is ``files``'s business; a row's
scores never depend on its chunk.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from sentiscore.infer.rows import add_provenance
from sentiscore.io.readers import InputFile, iter_batches, read_ahead

# Parts: the first ones hold about FIRST_PART_BYTES of input (seconds of scoring whatever the
# text length: ~200 IMDB reviews, ~2,500 SST-2 sentences on 2 cores), so that an early
# interrupt keeps work; the next ones about PART_SECONDS of scoring. A first part of 128 rows
# cost 5 % of rows/s on 5,232 SST-2 sentences (tiny micro-batches, twice).
FIRST_PART_BYTES = 256 << 10
MIN_PART_ROWS = 64
PART_SECONDS = 30.0
# A chunk ends early at this much input (one-megabyte reviews: 16 rows, not --chunk-rows).
MAX_CHUNK_BYTES = 16 << 20
# A chunk may hold this share more input to take the input's last rows: a small last chunk
# runs in small micro-batches (232 SST-2 sentences after two 256 KiB parts: 450 rows/s, not
# 1,000, and 5 % of the whole run's time).
TAIL_SHARE = 0.5


class Origin:
    """Where a chunk's rows come from: segments of (first row in the chunk, input path, its
    row within that input), so that a --strict error names the file and row of a chunk that
    joins several small inputs."""

    def __init__(self, segments: list[tuple[int, str, int]]):
        self.segments = segments

    def __call__(self, row: int) -> str:
        start, path, offset = max((s for s in self.segments if s[0] <= row), key=lambda s: s[0])
        return f"'{path}' row {offset + row - start + 1} (counting from 1, header excluded)"

    def after(self, take: int) -> Origin:
        """The origin of the rows left once the first ``take`` are cut off."""
        kept = [(s - take, p, o) for s, p, o in self.segments if s >= take]
        before = [(s, p, o) for s, p, o in self.segments if s < take]
        if before and (not kept or kept[0][0] > 0):
            s, p, o = before[-1]
            kept.insert(0, (0, p, o + take - s))
        return Origin(kept)


def chunks(
    inputs: list[InputFile],
    rows,
    limit: int | None,
    skip: int = 0,
    index: int = 0,
    provenance: tuple = (None, None),
    max_bytes=None,
) -> Iterator[tuple[int, Origin, pa.RecordBatch]]:
    """Yield (chunk index, origin of its rows, batch), in order, after the first ``skip``
    rows (already scored). A chunk has at most ``rows`` rows (an int, or a callable asked
    before each chunk) and about ``max_bytes`` of input (likewise; default MAX_CHUNK_BYTES),
    up to ``TAIL_SHARE`` more to take the input's last rows rather than leave them a small
    chunk of their own. Small inputs with the same schema share chunks (10,000 two-row files
    are not 10,000 model calls). ``provenance``: the (source, row number) column names to add,
    or None each."""
    size = rows if callable(rows) else (lambda: rows)
    budget = max_bytes if callable(max_bytes) else (lambda: max_bytes or MAX_CHUNK_BYTES)
    pending, held, nbytes, origin = [], 0, 0, Origin([])
    for (path, offset, batch), last in _with_last(_rows(inputs, size, limit, skip, provenance)):
        if pending and not batch.schema.equals(pending[0].schema):
            yield index, origin, _combine(pending)
            index, pending, held, nbytes, origin = index + 1, [], 0, 0, Origin([])
        origin.segments.append((held, path, offset))
        pending.append(batch)
        held, nbytes = held + batch.num_rows, nbytes + batch.nbytes
        while held and (held >= size() or nbytes >= budget()):
            take = _take(held, size(), nbytes, budget())
            if last and held <= size() and nbytes <= budget() * (1 + TAIL_SHARE):
                take = held  # the input's last rows, not a small chunk of their own
            whole = _combine(pending)
            yield index, origin, whole.slice(0, take)
            index, held, origin = index + 1, held - take, origin.after(take)
            pending = [whole.slice(take)] if held else []
            nbytes = pending[0].nbytes if held else 0
    if held:
        yield index, origin, _combine(pending)


def _rows(inputs, size, limit, skip, provenance):
    """(input path, row offset within it, batch) for every non-empty batch of the inputs, in
    order, after the first ``skip`` rows and up to ``limit`` rows, with provenance columns."""
    left = limit
    for inp in read_ahead(inputs):
        offset = 0
        for batch in iter_batches(inp, batch_rows=min(size(), 8192)):
            if left is not None:
                batch = batch.slice(0, left)
                left -= batch.num_rows
            if skip:
                cut = min(skip, batch.num_rows)
                skip, offset, batch = skip - cut, offset + cut, batch.slice(cut)
            if batch.num_rows:
                yield inp.path, offset, add_provenance(batch, inp.path, offset, *provenance)
                offset += batch.num_rows
            if left == 0:
                return


def _with_last(items):
    """(item, whether it is the last one), reading one item ahead."""
    items = iter(items)
    ahead = next(items, _END)
    while ahead is not _END:
        item, ahead = ahead, next(items, _END)
        yield item, ahead is _END


_END = object()


def _take(held: int, rows: int, nbytes: int, budget: int) -> int:
    """Rows to cut: at most ``rows``, and past the byte budget the share of the ``held`` rows
    that reaches it (rows assumed of even size; the row that crosses it is in)."""
    take = min(held, rows)
    if nbytes > budget:
        take = min(take, -(-held * budget // nbytes))
    return take


class PartSizer:
    """Rows per part: about ``PART_SECONDS`` of scoring at the rate measured so far, at most
    --chunk-rows, so that progress is saved often and a crash loses little work; until a rate
    is known, parts of about FIRST_PART_BYTES of input (``max_bytes``). Parts only group rows;
    a row's scores do not depend on them."""

    def __init__(self, cap: int):
        self.cap, self.target, self.bytes = cap, cap, FIRST_PART_BYTES

    def __call__(self) -> int:
        return self.target

    def max_bytes(self) -> int:
        return self.bytes

    def record(self, rows: int, seconds: float) -> None:
        if rows and seconds > 0:
            self.target = int(min(self.cap, max(MIN_PART_ROWS, rows / seconds * PART_SECONDS)))
            self.bytes = MAX_CHUNK_BYTES


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
