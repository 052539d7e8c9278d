"""Ray Data and Spark adapters call the same score_batch, keep every row, size themselves to
the cluster, and fail in one line when Spark's workers cannot import sentiscore."""

import json
import os

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from sentiscore.testing import sample_reviews


@pytest.fixture(scope="module")
def rows():
    return [{"id": i, "text": t} for i, (t, _) in enumerate(sample_reviews(30))] + [
        {"id": 30, "text": None}
    ]


def test_ray_score_dataset(tiny_bundle, rows, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    import shutil

    from sentiscore.infer.engines.ray import score_dataset

    monkeypatch.setenv("SENTISCORE_CACHE", str(tmp_path / "cache"))  # before the workers start

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
        # shipped through the object store: the actors need no copy at the driver's path
        copy = tmp_path / "copy"
        shutil.copytree(tiny_bundle, copy)
        shipped = score_dataset(ds, str(copy), batch_size=8, ship_bundle=True)
        shutil.rmtree(copy)
        sent = pa.Table.from_pylist(shipped.take_all()).sort_by("id")
    finally:
        ray.shutdown()
    assert sent.column("prob_positive").equals(out.column("prob_positive"))
    assert len(os.listdir(tmp_path / "cache" / "bundles")) == 1  # unpacked into the cache
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


def _engine_run(src, out, bundle, engine, *extra):
    from click.testing import CliRunner

    from sentiscore.cli import cli

    args = ["score", str(src), "-m", bundle, "-o", str(out), "--engine", engine, *extra]
    return CliRunner().invoke(cli, args)


def _same_everywhere(src, bundle, tmp_path, engines=("ray", "spark")):
    """Local, Ray and Spark runs of the CLI: same schema, every row once, in input order (the
    parts read in name order), same scores."""
    import numpy as np
    import pyarrow.parquet as pq

    r = _engine_run(src, tmp_path / "local.parquet", bundle, "local", "--silent")
    assert r.exit_code == 0, r.output
    local = pq.read_table(tmp_path / "local.parquet")
    for engine in engines:
        # Spark: a task that asks for two cores (spark.task.cpus) where there are two
        extra = ["--threads-per-worker", "2"] if engine == "spark" and os.cpu_count() > 1 else []
        r = _engine_run(src, tmp_path / engine, bundle, engine, "--workers", "1", *extra)
        assert r.exit_code == 0, r.output
        assert f"on {engine}" in r.output
        names = sorted(n for n in os.listdir(tmp_path / engine) if n.endswith(".parquet"))
        got = pa.concat_tables([pq.read_table(tmp_path / engine / n) for n in names])
        prob = [n for n in local.schema.names if n.startswith("prob_") or n == "score"]
        assert got.schema.names == local.schema.names
        assert got.schema.types == local.schema.types, (engine, got.schema, local.schema)
        assert got.drop_columns(prob).equals(local.drop_columns(prob)), engine
        a, b = (np.asarray(t.column("prob_positive").fill_null(-1.0)) for t in (got, local))
        assert np.abs(a - b).max() <= 1e-3  # rows that could not be scored: null in both
        assert got.column("label").to_pylist() == local.column("label").to_pylist()


def test_cli_engines_give_the_same_answers(tiny_bundle, rows, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    pytest.importorskip("pyspark")
    import sys

    import pyarrow.parquet as pq

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src)
    try:
        _same_everywhere(src, tiny_bundle, tmp_path)
        again = _engine_run(src, tmp_path / "ray", tiny_bundle, "ray")  # output exists
        assert again.exit_code == 1 and "--overwrite" in again.output
        rerun = _engine_run(src, tmp_path / "ray", tiny_bundle, "ray", "--overwrite")
        assert rerun.exit_code == 0, rerun.output
        names = sorted(os.listdir(tmp_path / "ray"))  # one part per split, numbered
        assert names == ["_SUCCESS"] + [f"part-{i:05d}.parquet" for i in range(len(names) - 1)]
        (tmp_path / "ray" / "_SUCCESS").unlink()  # as if the run had died before committing
        (tmp_path / "ray" / "part-00099.parquet").write_bytes(b"half a part")
        retry = _engine_run(src, tmp_path / "ray", tiny_bundle, "ray")  # no --overwrite needed
        assert retry.exit_code == 0, retry.output
        assert sorted(os.listdir(tmp_path / "ray")) == names  # the stray part is gone
        _scorer_options_reach_the_workers(src, tiny_bundle, tmp_path)
    finally:
        import ray

        ray.shutdown()
    refused = _engine_run(src, tmp_path / "x", tiny_bundle, "ray", "--resume")
    assert refused.exit_code == 1 and "no --resume" in refused.output
    txt = tmp_path / "more.txt"
    txt.write_text("a fine film\nan awful plot\n")
    args = ["score", str(src), str(txt), "-m", tiny_bundle, "--engine"]
    from click.testing import CliRunner

    from sentiscore.cli import cli

    for engine in ("spark", "ray"):  # the workers read like the local engine
        mixed = CliRunner().invoke(cli, [*args, engine, "-o", str(tmp_path / engine[0])])
        assert mixed.exit_code == 0, mixed.output
        assert pq.read_table(tmp_path / engine[0]).num_rows == len(rows) + 2
    import ray

    ray.shutdown()


def _scorer_options_reach_the_workers(src, bundle, tmp_path):
    """--max-length changes the scores on every engine alike; --max-error-rate and
    --stats-json work on engines; --strict and --threads are refused with what to use."""
    import json

    import pyarrow.parquet as pq

    cut = ("--max-length", "8")
    local = _engine_run(src, tmp_path / "cut.parquet", bundle, "local", *cut, "--silent")
    assert local.exit_code == 0, local.output
    want = pq.read_table(tmp_path / "cut.parquet").sort_by("id").column("prob_positive")
    full = pq.read_table(tmp_path / "local.parquet").sort_by("id").column("prob_positive")
    assert not want.equals(full)  # the option matters
    stats = tmp_path / "stats.json"
    for engine in ("ray", "spark"):
        extra = ("--max-error-rate", "0", "--stats-json", str(stats))
        r = _engine_run(src, tmp_path / f"cut-{engine}", bundle, engine, *cut, *extra)
        assert r.exit_code == 1 and "--max-error-rate" in r.output  # the one null text
        got = pq.read_table(tmp_path / f"cut-{engine}").sort_by("id").column("prob_positive")
        assert got.to_pylist() == pytest.approx(want.to_pylist(), abs=1e-6, nan_ok=True)
        assert json.loads(stats.read_text())["errors"] == 1
    r = _engine_run(src, tmp_path / "lim", bundle, "spark", "--limit", "5")
    assert r.exit_code == 0, r.output  # the first rows of the inputs, as locally
    assert sorted(pq.read_table(tmp_path / "lim").column("id").to_pylist()) == list(range(5))
    for flag in (["--strict"], ["--threads", "2"]):
        r = _engine_run(src, tmp_path / "refused", bundle, "spark", *flag)
        assert r.exit_code == 1 and f"no {flag[0]} with --engine spark" in r.output


@pytest.mark.slow
def test_engines_agree_on_real_reviews(shared_data, tmp_path, monkeypatch):
    """2,000 SST-2 training sentences with the default model, local vs Ray vs Spark."""
    pytest.importorskip("ray")
    pytest.importorskip("pyspark")
    import sys

    import pyarrow.parquet as pq

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    table = pq.read_table(f"{shared_data}/sst2/train.parquet", columns=["text"]).slice(0, 2000)
    src = tmp_path / "sst2.parquet"
    pq.write_table(table.append_column("id", pa.array(range(2000))), src)
    try:
        _same_everywhere(src, "default", tmp_path)
    finally:
        import ray

        ray.shutdown()


KILL_ONCE = """
import os, signal
marker = os.environ.get("SENTISCORE_TEST_KILL_ONCE")
if marker:
    from sentiscore.infer import scorer as _scorer

    _real = _scorer.Scorer.score_batch

    def _score_batch(self, *args, **kwargs):
        try:  # the first worker to score a batch dies, as if killed; the others go on
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return _real(self, *args, **kwargs)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)

    _scorer.Scorer.score_batch = _score_batch
"""


@pytest.mark.parametrize("engine", ["ray", "spark"])
def test_a_killed_worker_is_retried_and_every_row_kept_once(engine, tiny_bundle, tmp_path):
    """kill -9 of the worker scoring the first batch: the engine retries its task and the
    output holds every row exactly once, with the scores of an undisturbed local run."""
    pytest.importorskip(engine if engine == "ray" else "pyspark")
    import subprocess
    import sys

    import pyarrow.parquet as pq

    from sentiscore.infer.scorer import Scorer

    n = 400
    src = tmp_path / "in.parquet"
    texts = [t for t, _ in sample_reviews(n, seed=9)]
    pq.write_table(pa.table({"id": list(range(n)), "text": texts}), src)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_ONCE)
    marker = tmp_path / "killed"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
        "SENTISCORE_TEST_KILL_ONCE": str(marker),
        "PYSPARK_PYTHON": sys.executable,
    }
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle]
    cmd += ["-o", str(out), "--engine", engine, "--workers", "2", "--log-json", "-v"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    # --log-json: every stderr line is JSON, the engine's own (JVM, Ray core; all of it
    # with -v) included
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    (summary,) = [line for line in lines if line.get("event") == "summary"]
    assert {"engine": engine, "rows": n, "errors": 0}.items() <= summary.items()
    assert any(line.get("logger") == engine for line in lines)  # its chatter, wrapped
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker was killed
    got = pq.read_table(out).sort_by("id")
    assert got.column("id").to_pylist() == list(range(n))  # every row, once
    parts = sorted(p for p in os.listdir(out) if p.endswith(".parquet"))
    assert len(parts) >= 2  # the one input file is split between the workers
    committed = json.loads((out / "_SUCCESS").read_text())  # written last, lists the parts
    assert [p["name"] for p in committed["parts"]] == parts and committed["rows"] == n
    want = Scorer.load(tiny_bundle, device="cpu").score_batch(pq.read_table(src).to_batches()[0])
    assert got.column("prob_positive").to_pylist() == pytest.approx(
        want.column("prob_positive").to_pylist(), abs=1e-6
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_columns_are_typed_alike_on_every_engine(
    fmt, tiny_bundle, tmp_path, monkeypatch
):
    """The engines read CSV and JSONL with the local engine's whole-file types: ids like 007
    stay text, a review that looks like a number is text, integers stay integers; a file
    divided between splits comes back in input order."""
    pytest.importorskip("ray")
    pytest.importorskip("pyspark")
    import sys

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    texts = [t for t, _ in sample_reviews(400, seed=3)]
    rows = [{"id": f"{i:03d}", "stars": i % 5 + 1, "text": "10" if i == 7 else texts[i]}
            for i in range(400)]  # fmt: skip
    src = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(pa.Table.from_pylist(rows), src)
    else:
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        _same_everywhere(src, tiny_bundle, tmp_path)
    finally:
        import ray

        ray.shutdown()


def test_spark_tasks_ask_for_the_cores_and_gpus_they_use():
    """--threads-per-worker is spark.task.cpus (no oversubscription), --workers counts tasks;
    GPUs are a cluster's business: refused in local mode, a task resource under spark-submit."""
    from sentiscore.errors import ConfigError
    from sentiscore.infer.config import ScoreConfig
    from sentiscore.infer.engines.run import _spark_conf

    cfg = ScoreConfig(output="o", engine="spark", workers=1, threads_per_worker=2)
    conf = _spark_conf(cfg, local=True)
    if (os.cpu_count() or 1) >= 2:
        assert conf == {"spark.task.cpus": "2", "master": "local[2,4]"}
    assert _spark_conf(ScoreConfig(output="o", engine="spark"), local=True) == {
        "master": "local[*,4]"
    }
    gpu = ScoreConfig(output="o", engine="spark", gpus_per_worker=0.25)
    with pytest.raises(ConfigError, match="local mode"):
        _spark_conf(gpu, local=True)
    assert _spark_conf(gpu, local=False) == {"spark.task.resource.gpu.amount": "0.25"}
    many = ScoreConfig(output="o", engine="spark", workers=4096)
    assert _spark_conf(many, local=True)["master"] == f"local[{os.cpu_count()},4]"  # capped
    with pytest.raises(ConfigError, match="--threads-per-worker"):
        _spark_conf(ScoreConfig(output="o", engine="spark", threads_per_worker=4096), local=True)


def test_splits_cover_every_row_once_in_input_order(tiny_bundle, tmp_path):
    """The engines' splits, run here without Spark: the splits of one file take contiguous
    runs of its rows, so that parts read in name order are the input in input order (for
    Parquet with one or many row groups, CSV and JSONL); many files are grouped; a file that
    cannot be read comes back as the local engine's error."""
    import pyarrow.parquet as pq

    from sentiscore.errors import InputDataError
    from sentiscore.infer.engines import splits
    from sentiscore.infer.engines.run import _rebuilt
    from sentiscore.infer.rows import output_schema
    from sentiscore.io.readers import discover_inputs

    table = pa.table({"id": list(range(300)), "text": _texts(300)})
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    pq.write_table(table, tmp_path / "groups.parquet", row_group_size=40)  # 8 row groups
    pacsv.write_csv(table, tmp_path / "in.csv")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()))
    schema = pq.read_schema(src)
    job = {
        **{"bundle": tiny_bundle, "device": "cpu", "precision": "auto", "threads": 1},
        "options": {},
        **{"text": "text", "keep": "all", "prefix": "", "in_schema": schema},
        "out_schema": output_schema(schema, ["negative", "positive"]),
    }
    scores = None
    for name in ("in.parquet", "groups.parquet", "in.csv", "in.jsonl"):
        plan = splits.plan(discover_inputs([str(tmp_path / name)]), slots=2)
        job["output"] = str(tmp_path / f"out-{name}")
        done = [splits.run_split(s, job) for s in plan]
        assert [d["name"] for d in done] == [f"part-0000{i}.parquet" for i in range(4)], name
        assert all(d["rows"] > 0 for d in done), name  # every split scored some of the file
        parts = [pq.read_table(tmp_path / f"out-{name}" / d["name"]) for d in done]
        got = pa.concat_tables(parts)
        assert got.column("id").to_pylist() == list(range(300)), name  # by position
        scores = scores or got.column("prob_positive")
        assert got.column("prob_positive").equals(scores), name
    by_group = splits.plan(discover_inputs([str(tmp_path / "groups.parquet")]), slots=2)
    assert [p.pieces[0].groups for p in by_group] == [(0, 1), (2, 3), (4, 5), (6, 7)]

    many = [tmp_path / f"f{i}.parquet" for i in range(20)]
    for i, path in enumerate(many):
        pq.write_table(pa.table({"id": [i], "text": ["fine"]}), path)
    grouped = splits.plan(discover_inputs([str(p) for p in many]), slots=2)
    assert len(grouped) == 7 and sum(len(s.pieces) for s in grouped) == 20  # 3 files a split
    assert splits.plan(discover_inputs([str(src)]), slots=2, limit=10)[0].limit == 10

    os.remove(many[0])
    failed = splits.run_split(grouped[0], job)
    with pytest.raises(InputDataError, match="f0.parquet"):
        raise _rebuilt(failed["error"])


def _texts(n):
    return [t for t, _ in sample_reviews(n)]
