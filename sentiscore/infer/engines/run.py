"""``sentiscore score --engine ray|spark``: the same scoring as the local engine, spread over a
Ray or Spark cluster, from the CLI.

The driver reads the bundle's manifest and the first input's schema (text column, kept
columns, name clashes) and loads no model; the adapters (``engines.ray``, ``engines.spark``)
run the scorers. Output is a directory of Parquet parts named by task (a rerun replaces them;
the engines retry failed tasks, so every row is written once). Local files go through the
local engine (``files``); this module only chooses and drives the cluster engines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

import pyarrow as pa

from sentiscore.errors import ConfigError
from sentiscore.infer.config import ScoreConfig
from sentiscore.io.commit import SUCCESS, remove_marker, write_marker
from sentiscore.io.readers import InputFile, detect_format, discover_inputs, map_inputs, read_schema

log = logging.getLogger(__name__)


def score_on_engine(inputs, cfg: ScoreConfig, progress: bool = False) -> dict:
    """Score ``inputs`` on ``cfg.engine`` ('ray' or 'spark') into the directory ``cfg.output``;
    return the run summary (rows, errors, seconds, rows/s, outputs). ``progress``: the
    engine's own progress bars on stderr (Ray Data's per operator, Spark's per stage)."""
    _check(cfg)
    files = discover_inputs([inputs] if isinstance(inputs, str) else list(inputs), cfg.delimiter)
    text, keep = _columns(files, cfg)
    start = time.perf_counter()
    _uncommit(cfg)
    paths = [f.path for f in files]
    if cfg.engine == "ray":
        _run_ray(paths, cfg, text, keep, _schema(files), progress)
    else:
        _run_spark(paths, cfg, text, keep, _schema(files), progress)
    return _summary(cfg, time.perf_counter() - start)


def _check(cfg: ScoreConfig) -> None:
    if not cfg.output:
        raise ConfigError(f"-o OUTPUT_DIR with --engine {cfg.engine}", "no -o", "pass -o scored/")
    if cfg.resume:
        raise ConfigError(
            f"no --resume with --engine {cfg.engine}",
            "--resume",
            "rerun the same command: the parts of a run that did not finish (no _SUCCESS) "
            "are replaced",
        )
    if cfg.format not in (None, "parquet"):
        raise ConfigError(
            f"--format parquet with --engine {cfg.engine} (a directory of Parquet parts)",
            repr(cfg.format),
            "drop --format, or use the local engine for other formats",
        )
    state = _output_state(cfg.output)
    if state == "uncommitted":
        log.warning("replacing the parts in '%s' of a run that did not finish", cfg.output)
    elif state != "absent" and not cfg.overwrite:
        raise ConfigError(
            "No existing output",
            f"'{cfg.output}' exists" + (" (not a directory of parts)" if state == "other" else ""),
            "pass --overwrite to replace it",
        )


def _output_state(output: str) -> str:
    """'absent'; 'committed' (a finished run: ``_SUCCESS``); 'uncommitted' (only part files
    and engine scratch, no ``_SUCCESS``: a run that did not finish); or 'other'."""
    from pyarrow import fs

    filesystem, root = _output_fs(output)
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.NotFound:
        return "absent"
    if info.type != fs.FileType.Directory:
        return "other"
    names = [i.base_name for i in filesystem.get_file_info(fs.FileSelector(root))]
    if not names:
        return "absent"
    if SUCCESS in names:
        return "committed"
    ours = all(n.startswith(("part-", "_", ".")) for n in names)
    return "uncommitted" if ours else "other"


def _columns(files: list[InputFile], cfg: ScoreConfig) -> tuple[str, object]:
    """(text column, kept columns), checked like the local engine does, from the manifest's
    labels: the driver loads no model."""
    from sentiscore.infer.bundle import load_bundle
    from sentiscore.infer.files import check_inputs

    formats = {detect_format(f.path) for f in files}
    if len(formats) != 1 or formats & {"txt"}:
        raise ConfigError(
            f"Inputs of one format (Parquet, CSV or JSONL) with --engine {cfg.engine}",
            f"formats {sorted(str(f) for f in formats)}",
            "score each format separately",
        )
    keep, text = check_inputs(files, load_bundle(cfg.model, verify=False).labels, cfg)
    return text, keep


def _schema(files: list[InputFile]) -> pa.Schema:
    """The inputs' column types as the local engine reads them (whole-file typing for CSV
    and JSONL, read once by the column checks and cached), for the engines' readers."""
    schemas = map_inputs(read_schema, files)
    return pa.unify_schemas(schemas, promote_options="permissive")


def _run_ray(paths: list[str], cfg: ScoreConfig, text: str, keep, schema: pa.Schema, progress):
    ray = _need("ray", "ray")
    from sentiscore.infer.engines.ray import read_inputs, score_dataset, write_parquet

    if not ray.is_initialized():  # RAY_ADDRESS joins a cluster; else a local one
        ray.init(include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    ds = read_inputs(paths, schema=schema, delimiter=_delimiter(paths[0], cfg))
    if cfg.limit:
        ds = ds.limit(cfg.limit)
    scored = score_dataset(
        ds,
        **_common(cfg, text, keep),
        threads=cfg.threads_per_worker,
        concurrency=cfg.workers,
        num_gpus=cfg.gpus_per_worker,
    )
    write_parquet(scored, cfg.output)


def _run_spark(paths: list[str], cfg: ScoreConfig, text: str, keep, schema: pa.Schema, progress):
    _need("pyspark", "spark")
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    from sentiscore.infer.engines.spark import score_dataframe

    # Local workers run this interpreter unless told otherwise (a cluster sets its own).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("sentiscore")
    builder = builder.config("spark.ui.showConsoleProgress", str(progress).lower())
    for key, value in _spark_conf(cfg, local=not SparkConf().contains("spark.master")).items():
        builder = builder.config(key, value) if key != "master" else builder.master(value)
    spark = builder.getOrCreate()
    with _spark_paths(paths + [cfg.output]):
        fmt = detect_format(paths[0])
        if fmt == "parquet":
            df = spark.read.parquet(*paths)
        else:  # the local engine's column types, not Spark's guesses (ids like 007 stay text)
            from pyspark.sql.pandas.types import from_arrow_schema

            reader = spark.read.schema(from_arrow_schema(schema))
            if fmt == "csv":
                sep = _delimiter(paths[0], cfg)
                reader = reader.option("header", True).option("sep", sep).option("multiLine", True)
                df = reader.option("escape", '"').csv(paths)
            else:
                df = reader.json(paths)
        if cfg.limit:
            df = df.limit(cfg.limit)
        # Spark splits files by bytes; scoring costs by row: one small file of many short
        # reviews would be one task on one core. At least two partitions per task slot.
        slots = 2 * spark.sparkContext.defaultParallelism
        if df.rdd.getNumPartitions() < slots:
            df = df.repartition(slots)
        threads = cfg.threads_per_worker or 1
        scored = score_dataframe(df, **_common(cfg, text, keep), threads=threads)
        scored.write.mode("overwrite").parquet(cfg.output)


def _spark_conf(cfg: ScoreConfig, local: bool) -> dict:
    """Spark settings from the worker options: each task asks for the cores its ONNX Runtime
    threads use (``spark.task.cpus``), so an executor runs cores / threads tasks at once, and
    for its share of a GPU. ``local``: not under spark-submit, so this machine's cores."""
    conf = {}
    threads = cfg.threads_per_worker or 1
    if cfg.threads_per_worker:
        conf["spark.task.cpus"] = str(threads)
    if cfg.gpus_per_worker:
        if local:
            raise ConfigError(
                "--gpus-per-worker with --engine spark on a cluster whose executors have GPUs",
                "Spark's local mode, which schedules no GPUs",
                "run under spark-submit with spark.executor.resource.gpu.amount and a GPU "
                "discovery script, or use --engine ray",
            )
        conf["spark.task.resource.gpu.amount"] = str(cfg.gpus_per_worker)
    if local:
        cores = os.cpu_count() or 1
        if threads > cores:
            raise ConfigError(
                f"--threads-per-worker <= this machine's {cores} cores",
                str(threads),
                f"pass --threads-per-worker {cores} or less",
            )
        slots = f"{cfg.workers * threads}" if cfg.workers else "*"
        # local[N,F]: a failed task (a killed Python worker) is retried, as on a cluster
        conf["master"] = f"local[{slots},{SPARK_LOCAL_TASK_TRIES}]"
    return conf


# Attempts per task in Spark's local mode (a cluster uses spark.task.maxFailures, default 4).
SPARK_LOCAL_TASK_TRIES = 4


@contextlib.contextmanager
def _spark_paths(paths: list[str]):
    """Spark reads and writes through Hadoop file systems: a URI scheme it has no connector
    for is one line naming the connector, not a Java stack trace."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - Py4J and pyspark wrap the JVM's error
        text = str(exc)
        if "No FileSystem for scheme" not in text:
            raise
        scheme = text.split("No FileSystem for scheme", 1)[1].strip(" :\"'").split('"')[0]
        raise ConfigError(
            "URIs that this Spark can read and write (--engine spark uses Spark's file "
            "systems, not sentiscore's)",
            f"Spark has no file system for '{scheme}://' ({[p for p in paths if '://' in p][:2]})",
            "add the connector to Spark (for S3: s3a:// with the hadoop-aws package, e.g. "
            "--packages org.apache.hadoop:hadoop-aws), or use --engine ray or local",
        ) from None


def _common(cfg: ScoreConfig, text: str, keep) -> dict:
    """The adapters' arguments that come straight from the config."""
    return {
        "bundle": cfg.model,
        "text_column": text,
        "keep_columns": keep,
        "prefix": cfg.prefix,
        "device": _device(cfg),
        "precision": cfg.precision,
    }


def _delimiter(path: str, cfg: ScoreConfig) -> str:
    return cfg.delimiter or discover_inputs([path])[0].delimiter


def _device(cfg: ScoreConfig) -> str:
    if cfg.device != "auto":
        return cfg.device
    return "cuda" if cfg.gpus_per_worker else "cpu"


def _need(module: str, extra: str):
    from sentiscore.errors import require

    return require(module, extra, f"--engine {extra}")


def _summary(cfg: ScoreConfig, seconds: float) -> dict:
    """Commit the output: ``_SUCCESS``, written after every part, lists them with their rows
    (object stores have no atomic directory rename, so readers trust exactly the listed
    parts); return the run summary from it."""

    import pyarrow.parquet as pq
    from pyarrow import fs

    filesystem, root = _output_fs(cfg.output)
    infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    names = sorted(
        i.path
        for i in infos
        if i.is_file
        and i.path.endswith(".parquet")
        and not any(d.startswith(("_", ".")) for d in i.path[len(root) :].split("/"))
    )  # parts, not engine scratch such as Spark's _temporary/

    def count(path: str) -> dict:
        errors = pq.read_table(path, columns=[f"{cfg.prefix}error"], filesystem=filesystem)
        column = errors.column(0)
        name = path[len(root) :].lstrip("/")
        return {"name": name, "rows": len(column), "errors": len(column) - column.null_count}

    parts = map_inputs(count, names)
    rows = sum(p["rows"] for p in parts)
    summary = {
        "engine": cfg.engine,
        "rows": rows,
        "errors": sum(p["errors"] for p in parts),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1) if seconds else None,
        "outputs": [cfg.output],
    }
    write_marker(filesystem, root, summary, parts)
    return summary


def _output_fs(output: str):
    """(pyarrow file system, directory path in it) of an engine's output."""
    import os.path

    from pyarrow import fs

    from sentiscore.io.uris import on_filesystem

    filesystem, (path,) = on_filesystem([output])
    if filesystem is None:
        return fs.LocalFileSystem(), os.path.abspath(path)
    return filesystem, path.rstrip("/")


def _uncommit(cfg: ScoreConfig) -> None:
    """Remove a previous run's ``_SUCCESS`` before any part is replaced."""
    remove_marker(*_output_fs(cfg.output))
