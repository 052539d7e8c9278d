"""Spark adapter: ``score_dataframe(df, ...)`` runs ``Scorer.score_batch`` through
``DataFrame.mapInArrow``; each Python worker loads the bundle once and reuses it.
Needs the ``spark`` extra; model logic stays in ``scorer``.
"""

from __future__ import annotations

import pyarrow as pa

from sentiscore.errors import require

_SCORERS: dict = {}


def _scorer(bundle: str, device: str, precision: str, threads: int | None):
    key = (bundle, device, precision, threads)
    if key not in _SCORERS:
        from sentiscore.infer.scorer import Scorer

        _SCORERS[key] = Scorer.load(bundle, device=device, precision=precision, threads=threads)
    return _SCORERS[key]


def output_schema(
    input_schema: pa.Schema,
    labels: list[str],
    text_column: str,
    keep_columns="all",
    prefix: str = "",
) -> pa.Schema:
    from sentiscore.infer.scorer import keep_list

    fields = [input_schema.field(n) for n in keep_list(keep_columns, input_schema.names)]
    fields += [
        pa.field(f"{prefix}label", pa.string()),
        pa.field(f"{prefix}label_id", pa.int32()),
        pa.field(f"{prefix}score", pa.float32()),
    ]
    fields += [pa.field(f"{prefix}prob_{lab}", pa.float32()) for lab in labels]
    return pa.schema([*fields, pa.field(f"{prefix}error", pa.string())])


def score_dataframe(
    df,
    bundle: str = "default",
    text_column: str = "text",
    keep_columns="all",
    prefix: str = "",
    device: str = "cpu",
    precision: str = "auto",
    threads: int | None = 1,
):
    """Return a Spark DataFrame with the prediction columns appended."""
    require("pyspark", "spark", "Scoring on Spark")
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    from sentiscore.infer.bundle import load_bundle

    labels = load_bundle(bundle).labels
    in_schema = to_arrow_schema(df.schema)
    scorer = _scorer(bundle, device, precision, threads)
    scorer.check_columns(in_schema, text_column, keep_columns, prefix)
    out_schema = output_schema(in_schema, labels, text_column, keep_columns, prefix)

    def run(batches):
        s = _scorer(bundle, device, precision, threads)
        for batch in batches:
            yield s.score_batch(batch, text_column, keep_columns, prefix).cast(out_schema)

    return df.mapInArrow(run, from_arrow_schema(out_schema))
