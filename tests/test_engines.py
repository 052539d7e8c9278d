"""Ray Data and Spark adapters call the same score_batch, keep every row, size themselves to
the cluster, and fail in one line when Spark's workers cannot import sentiscore."""

import os

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
        from sentiscore.infer.engines.ray import default_concurrency

        assert default_concurrency(1) == 1  # 2 CPUs: one actor, one CPU left for reading
        ds = ray.data.from_arrow(pa.Table.from_pylist(rows))
        scored = score_dataset(ds, tiny_bundle, batch_size=8)  # defaults: sized to the cluster
        out = pa.Table.from_pylist(scored.take_all()).sort_by("id")
        # as many actors as CPUs used to deadlock: each asks for its threads' CPUs now
        two = score_dataset(ds, tiny_bundle, batch_size=8, concurrency=(1, 2))
        assert sorted(r["id"] for r in two.take_all()) == list(range(31))
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


def test_ray_files_in_blocks_and_deterministic_output_names(tiny_bundle, rows, tmp_path):
    ray = pytest.importorskip("ray")
    import pyarrow.parquet as pq

    from sentiscore.infer.engines.ray import read_inputs, score_dataset, write_parquet

    paths = []
    for k in range(3):
        path = tmp_path / f"in-{k}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[k * 10 : (k + 1) * 10]), path)
        paths.append(str(path))
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    try:
        ds = read_inputs(paths, blocks=6)
        assert ds.materialize().num_blocks() >= 3
        names = []
        for _ in range(2):  # a rerun writes the same files, not new ones
            write_parquet(score_dataset(ds, tiny_bundle, batch_size=4), str(tmp_path / "out"))
            names.append(sorted(os.listdir(tmp_path / "out")))
    finally:
        ray.shutdown()
    assert names[0] == names[1] and all(n.startswith("part-") for n in names[0])
    out = pq.read_table(tmp_path / "out").sort_by("id")
    assert out.column("id").to_pylist() == list(range(30))


def test_spark_workers_without_sentiscore_are_one_line(tiny_bundle, rows, monkeypatch):
    pytest.importorskip("pyspark")
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip("needs a system Python without pyarrow")
    from pyspark.sql import SparkSession

    from sentiscore.errors import ConfigError
    from sentiscore.infer.engines.spark import score_dataframe

    monkeypatch.setenv("PYSPARK_PYTHON", python)
    monkeypatch.chdir("/")  # so that the source tree is not importable by accident
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("sentiscore-no-python")
        .config("spark.ui.enabled", "false")
        .config("spark.pyspark.python", python)
        .getOrCreate()
    )
    try:
        df = spark.createDataFrame([(1, "Good.")], "id long, text string")
        with pytest.raises(ConfigError, match="PYSPARK_PYTHON"):
            score_dataframe(df, tiny_bundle)
    finally:
        spark.stop()
