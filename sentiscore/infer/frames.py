"""Data frames in, data frames out: ``Scorer.score_df`` for pandas and polars (and anything
with ``__arrow_c_stream__`` or a pyarrow Table), so that notebooks and SQL engines with Python
UDFs (DuckDB: docs/scoring.md) score a table without writing files.

The frame goes through Arrow to ``Scorer.score_batch`` in batches and comes back as the same
kind of frame: its columns (``keep_columns``), then the prediction columns, same rows, same
order; a pandas frame keeps its index. The scoring rules are ``scorer``'s and ``rows``'s.
"""

from __future__ import annotations

import pyarrow as pa

from sentiscore.errors import ConfigError

BATCH_ROWS = 8192


def score_df(scorer, df, text_column: str = "text", keep_columns="all", prefix=None):
    """``df`` with prediction columns appended (see the module docstring)."""
    kind = _kind(df)
    table = _to_arrow(df, kind)
    scorer.check_columns(table.schema, text_column, keep_columns, prefix)  # before any batch
    batches = table.to_batches(max_chunksize=BATCH_ROWS) or [
        pa.RecordBatch.from_pylist([], schema=table.schema)
    ]
    out = pa.Table.from_batches(
        [scorer.score_batch(b, text_column, keep_columns, prefix) for b in batches]
    )
    if kind == "pandas":
        frame = out.to_pandas()
        frame.index = df.index
        return frame
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(out)
    return out


def _kind(df) -> str:
    module = type(df).__module__.split(".", 1)[0]
    if module in ("pandas", "polars"):
        return module
    if isinstance(df, (pa.Table, pa.RecordBatch)) or hasattr(df, "__arrow_c_stream__"):
        return "arrow"
    raise ConfigError(
        "A pandas or polars DataFrame, or a pyarrow Table",
        type(df).__name__,
        "convert it first (e.g. pandas.DataFrame(rows))",
    )


def _to_arrow(df, kind: str) -> pa.Table:
    if kind == "pandas":
        return pa.Table.from_pandas(df, preserve_index=False)
    if kind == "polars":
        return df.to_arrow()
    if isinstance(df, pa.RecordBatch):
        return pa.Table.from_batches([df])
    return df if isinstance(df, pa.Table) else pa.table(df)
