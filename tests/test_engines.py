"""Ray Data and Spark adapters call the same score_batch and keep every row."""

import pyarrow as pa
import pytest

from sentiscore.testing import sample_reviews


@pytest.fixture(scope="module")
def rows():
    return [{"id": i, "text": t} for i, (t, _) in enumerate(sample_reviews(30))] + [
        {"id": 30, "text": None}
    ]


def test_ray_score_dataset(tiny_bundle, rows):
    ray = pytest.importorskip("ray")
    from sentiscore.infer.engines.ray import score_dataset

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    try:
        ds = ray.data.from_arrow(pa.Table.from_pylist(rows))
        scored = score_dataset(ds, tiny_bundle, batch_size=8)  # auto: per-row int8
        out = pa.Table.from_pylist(scored.take_all()).sort_by("id")
    finally:
        ray.shutdown()
    assert out.column("id").to_pylist() == list(range(31))
    assert out.column("error").to_pylist()[-1] == "text is null"
    _assert_same_as_local(tiny_bundle, rows, out.column("prob_positive").to_pylist())


def _assert_same_as_local(bundle, rows, probs):
    """Another engine, other batches: the same probabilities as one local batch."""
    from sentiscore.infer.scorer import Scorer

    direct = Scorer.load(bundle, device="cpu").score_batch(pa.RecordBatch.from_pylist(rows))
    assert probs[:30] == pytest.approx(direct.column("prob_positive").to_pylist()[:30], abs=1e-6)


def test_spark_score_dataframe(tiny_bundle, rows, monkeypatch):
    pytest.importorskip("pyspark")
    import sys

    # Spark's Python workers must run an interpreter that has sentiscore installed.
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
    import sys

    from pyspark.sql import SparkSession

    from sentiscore.infer.engines.spark import score_dataframe

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("sentiscore-test")
        .config("spark.ui.enabled", "false")
        .config("spark.pyspark.python", sys.executable)
        .getOrCreate()
    )
    try:
        df = spark.createDataFrame([(r["id"], r["text"]) for r in rows], "id long, text string")
        out = score_dataframe(df, tiny_bundle).orderBy("id").collect()  # auto: per-row int8
    finally:
        spark.stop()
    assert [r["id"] for r in out] == list(range(31))
    assert out[-1]["error"] == "text is null" and out[-1]["label"] is None
    assert all(r["label"] in ("negative", "positive") for r in out[:30])
    _assert_same_as_local(tiny_bundle, rows, [r["prob_positive"] for r in out])
