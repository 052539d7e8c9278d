"""Spark adapter: ``score_dataframe(df, ...)`` runs ``Scorer.score_batch`` through
``DataFrame.mapInArrow``; each Python worker loads the bundle once and reuses it.

The driver reads only the bundle's manifest (labels, for the output schema and the column
checks), and with ``precision='auto'`` on the CPU settles auto's choice once, so that every
worker runs the same variant; it needs no GPU. A local bundle directory is shipped to the
executors with ``SparkContext.addFile``, so it need not exist at the same path on every
machine; a bundle on shared storage is used in place. Before the job, one tiny task checks
that the executors' Python can import sentiscore and pyarrow, so a missing PYSPARK_PYTHON is a
one-line error instead of a Java stack trace. Needs the ``spark`` extra; model logic stays in
``scorer``.
"""

from __future__ import annotations

from sentiscore.errors import require
from sentiscore.infer.engines.worker import (
    bundle_here,
    check_spark_workers,
    scorer_for,
    ship_to_spark,
)
from sentiscore.infer.rows import output_schema


def score_dataframe(
    df,
    bundle: str = "default",
    text_column: str = "text",
    keep_columns="all",
    prefix: str | None = None,
    device: str = "cpu",
    precision: str = "auto",
    threads: int | None = 1,
    check_workers: bool = True,
    max_length: int | None = None,
    max_tokens: int | None = None,
    verify: bool = True,
    min_score: float | None = None,
    strip_html: bool = False,
):
    """Return a Spark DataFrame with the prediction columns appended.

    threads: ONNX Runtime threads per Python worker (Spark runs one worker per task slot, so
    threads x spark.executor.cores should not exceed an executor's cores).
    max_length, max_tokens, verify, min_score, strip_html: as ``Scorer.load`` (the CLI's
    --max-length, --max-tokens, --no-verify, --min-score, --strip-html)."""
    require("pyspark", "spark", "Scoring on Spark")
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    from sentiscore.infer.bundle import load_bundle
    from sentiscore.infer.rows import check_columns, settle_prefix
    from sentiscore.infer.scorer import resolve_precision

    labels = load_bundle(bundle, verify=False).labels  # the manifest only; workers verify
    in_schema = to_arrow_schema(df.schema)
    prefix = settle_prefix(in_schema.names, labels, keep_columns, prefix)
    check_columns(in_schema, labels, text_column, keep_columns, prefix)
    out_schema = output_schema(in_schema, labels, keep_columns, prefix)
    spark = df.sparkSession
    if check_workers:
        check_spark_workers(spark)
    where = ship_to_spark(spark, bundle)
    precision = resolve_precision(bundle, device, precision, verify)  # once, for all workers

    def run(batches):
        options = {
            "max_length": max_length,
            "max_tokens": max_tokens,
            "verify": verify,
            "min_score": min_score,
            "strip_html": strip_html,
        }
        s = scorer_for(bundle_here(where), device, precision, threads, **options)
        for batch in batches:
            yield s.score_batch(batch, text_column, keep_columns, prefix).cast(out_schema)

    return df.mapInArrow(run, from_arrow_schema(out_schema))
