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

import os

import pyarrow as pa

from sentiscore.errors import ConfigError, first_line, require

_SCORERS: dict = {}


def _scorer(bundle: str, device: str, precision: str, threads: int | None, **options):
    """This Python worker's scorer for these settings (loaded once, reused by every task).
    ``options``: further ``Scorer.load`` arguments (max_length, max_tokens, verify,
    min_score, strip_html)."""
    key = (bundle, device, precision, threads, *sorted(options.items()))
    if key not in _SCORERS:
        from sentiscore.infer.scorer import Scorer

        _SCORERS[key] = Scorer.load(
            bundle, device=device, precision=precision, threads=threads, **options
        )
    return _SCORERS[key]


def output_schema(
    input_schema: pa.Schema,
    labels: list[str],
    text_column: str,
    keep_columns="all",
    prefix: str = "",
) -> pa.Schema:
    from sentiscore.infer.rows import keep_list

    fields = [input_schema.field(n) for n in keep_list(keep_columns, input_schema.names)]
    fields += [
        pa.field(f"{prefix}label", pa.string()),
        pa.field(f"{prefix}label_id", pa.int32()),
        pa.field(f"{prefix}score", pa.float32()),
    ]
    fields += [pa.field(f"{prefix}prob_{lab}", pa.float32()) for lab in labels]
    return pa.schema([*fields, pa.field(f"{prefix}error", pa.string())])


def _workers_can_score(spark) -> None:
    """One task on an executor: can its Python import what scoring needs?"""

    def probe(_):
        import importlib.util
        import sys

        missing = [m for m in ("sentiscore", "pyarrow") if importlib.util.find_spec(m) is None]
        yield (sys.executable, ",".join(missing))

    try:
        ((python, missing),) = spark.sparkContext.parallelize([0], 1).mapPartitions(probe).collect()
    except Exception as exc:  # noqa: BLE001 - Py4J wraps the worker's failure
        python, missing = "the executors' Python", first_line(exc, 160)
    if missing:
        raise ConfigError(
            "Spark executors whose Python has sentiscore and pyarrow installed",
            f"{python}: cannot import {missing}",
            "set PYSPARK_PYTHON (and spark.pyspark.python) to an interpreter with "
            "sentiscore installed, e.g. the one running this driver",
        )


def _shipped(spark, bundle: str) -> str:
    """The bundle name executors resolve: a local directory is shipped with addFile."""
    if bundle == "default" or "://" in bundle or not os.path.isdir(bundle):
        return bundle
    spark.sparkContext.addFile(os.path.abspath(bundle), recursive=True)
    return "sparkfiles:" + os.path.basename(os.path.normpath(bundle))


def _resolve(bundle: str) -> str:
    if bundle.startswith("sparkfiles:"):
        from pyspark import SparkFiles

        return SparkFiles.get(bundle.removeprefix("sparkfiles:"))
    return bundle


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
    out_schema = output_schema(in_schema, labels, text_column, keep_columns, prefix)
    spark = df.sparkSession
    if check_workers:
        _workers_can_score(spark)
    where = _shipped(spark, bundle)
    precision = resolve_precision(bundle, device, precision, verify)  # once, for all workers

    def run(batches):
        options = {
            "max_length": max_length,
            "max_tokens": max_tokens,
            "verify": verify,
            "min_score": min_score,
            "strip_html": strip_html,
        }
        s = _scorer(_resolve(where), device, precision, threads, **options)
        for batch in batches:
            yield s.score_batch(batch, text_column, keep_columns, prefix).cast(out_schema)

    return df.mapInArrow(run, from_arrow_schema(out_schema))
