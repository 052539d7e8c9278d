"""Ray Data adapter: ``score_dataset(ds, ...)`` maps ``Scorer.score_batch`` over a Ray
Dataset with one Scorer per actor (the model loads once per actor, not per batch).
Needs the ``ray`` extra; model logic stays in ``scorer``.
"""

from __future__ import annotations

import pyarrow as pa

from sentiscore.errors import require


class _ScoreActor:
    def __init__(
        self,
        bundle: str,
        device: str,
        precision: str,
        threads: int | None,
        text_column: str,
        keep_columns,
        prefix: str,
    ):
        from sentiscore.infer.scorer import Scorer

        self.scorer = Scorer.load(bundle, device=device, precision=precision, threads=threads)
        self.args = (text_column, keep_columns, prefix)

    def __call__(self, table: pa.Table) -> pa.Table:
        batches = [
            self.scorer.score_batch(b, *self.args) for b in table.combine_chunks().to_batches()
        ]
        if not batches:  # an empty block keeps the output schema
            return (
                self.scorer.score_batch(
                    pa.RecordBatch.from_pylist([], schema=table.schema), *self.args
                ).to_table()
                if table.num_columns
                else table
            )
        return pa.Table.from_batches(batches)


def score_dataset(
    ds,
    bundle: str = "default",
    text_column: str = "text",
    keep_columns="all",
    prefix: str = "",
    device: str = "cpu",
    precision: str = "auto",
    threads: int | None = 1,
    actors: int = 1,
    batch_size: int = 4096,
):
    """Return a Ray Dataset with the prediction columns appended (lazy, like any Ray op)."""
    ray_data = require("ray.data", "ray", "Scoring on Ray Data")
    return ds.map_batches(
        _ScoreActor,
        fn_constructor_args=(bundle, device, precision, threads, text_column, keep_columns, prefix),
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray_data.ActorPoolStrategy(size=actors),
        num_gpus=1 if device == "cuda" else 0,
    )
