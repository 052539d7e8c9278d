"""score_stream: score inputs and write every row to a byte stream (``-o -``, stdout) as soon
as its chunk is scored, in input order, with memory bounded by the chunk size and no
temporary file.

It shares reading, column checks, chunking and the summary with ``files``; it has no parts,
manifest or resume (a stream cannot be resumed). Drawing progress is the CLI's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sentiscore.errors import ConfigError
from sentiscore.infer.checks import check_inputs
from sentiscore.infer.chunking import chunks
from sentiscore.infer.config import ScoreConfig
from sentiscore.infer.files import finish_run, load_scorer, prefetch
from sentiscore.infer.scorer import Scorer
from sentiscore.io.readers import discover_inputs
from sentiscore.io.writers import StreamWriter

# Rows per chunk when streaming: small, so the first rows come out quickly.
STREAM_CHUNK_ROWS = 1024


def score_stream(
    inputs,
    sink,
    cfg: ScoreConfig | None = None,
    progress: Callable[[int], None] | None = None,
    scorer: Scorer | None = None,
    **options,
) -> dict:
    """Score files, directories or globs into ``sink`` (a binary file object) in
    ``cfg.format`` (default CSV). Returns the run summary."""
    cfg = cfg or ScoreConfig(**options)
    if cfg.resume:
        raise ConfigError(
            "--resume with an output file", "-o - (a stream cannot be resumed)", "write to a file"
        )
    files = discover_inputs(
        [inputs] if isinstance(inputs, str) else list(inputs), cfg.delimiter, cfg.text_column
    )
    scorer = scorer or load_scorer(cfg)
    keep, text_column, prefix = check_inputs(files, scorer.labels, cfg)
    progress = progress or (lambda n: None)
    writer = StreamWriter(sink, cfg.format or "csv")
    start, written = time.perf_counter(), 0
    rows = min(cfg.chunk_rows, STREAM_CHUNK_ROWS)

    def prepared():
        tags = (cfg.source_column, cfg.row_number_column)
        for _index, origin, chunk in chunks(files, rows, cfg.limit, provenance=tags):
            yield scorer.prepare(chunk, text_column, keep, prefix, cfg.strict, origin)

    for prep in prefetch(prepared()):
        out = scorer.finish(prep, progress)
        progress(out.num_rows - len(prep.ids))  # rows that could not be scored
        writer.write(out)
        written += out.num_rows
    writer.close()
    return finish_run(scorer, cfg, start, written, ["-"])
