"""``sentiscore score --engine ray|spark``: the same scoring as the local engine, spread over a
Ray or Spark cluster, from the CLI.

The driver reads the bundle's manifest and the inputs' schemas (text column, kept columns,
name clashes) and loads no model. Both engines run splits that their workers (Ray actors,
Spark tasks) read, score and write themselves (``engines.splits``). Output is a directory of
Parquet parts with deterministic names (a rerun or a retried task rewrites the same part),
committed by ``_SUCCESS`` (``io.commit``) once every part is written. The local engine is
``files``; this module only chooses and drives the cluster engines.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import replace

import pyarrow as pa

from sentiscore.errors import ConfigError
from sentiscore.infer.checks import check_inputs, with_provenance
from sentiscore.infer.config import ScoreConfig
from sentiscore.infer.engines import quiet, splits
from sentiscore.infer.engines.worker import check_spark_workers, ship_to_ray, ship_to_spark
from sentiscore.infer.files import check_error_rate, write_stats
from sentiscore.infer.rows import output_schema
from sentiscore.io.commit import SUCCESS, remove_marker, write_marker
from sentiscore.io.lock import locked
from sentiscore.io.readers import InputFile, discover_inputs, map_inputs, read_schema
from sentiscore.io.uris import is_uri

log = logging.getLogger(__name__)


def score_on_engine(inputs, cfg: ScoreConfig, progress: bool = False) -> dict:
    """Score ``inputs`` on ``cfg.engine`` ('ray' or 'spark') into the directory ``cfg.output``;
    return the run summary (rows, errors, seconds, rows/s, outputs). ``progress``: the
    engine's own progress bars on stderr (Ray Data's per operator, Spark's per stage)."""
    from sentiscore.infer.bundle import load_bundle

    _check(cfg)
    files = discover_inputs([inputs] if isinstance(inputs, str) else list(inputs), cfg.delimiter)
    labels = load_bundle(cfg.model, verify=False).labels  # the manifest: the driver loads no model
    keep, text, prefix = check_inputs(files, labels, cfg)  # kept, text column, name clashes
    cfg = replace(cfg, prefix=prefix)
    schema = with_provenance(_schema(files), cfg, "the inputs")
    out_schema = output_schema(schema, labels, keep, prefix)
    start = time.perf_counter()
    with locked([] if is_uri(cfg.output) else [cfg.output]):  # one run writes it at a time
        _uncommit(cfg)
        run = _run_ray if cfg.engine == "ray" else _run_spark
        results = run(files, cfg, _job(cfg, text, keep, schema, out_schema), progress)
        summary = _commit(cfg, results, time.perf_counter() - start)
    if cfg.stats_json:
        write_stats(cfg.stats_json, summary)
    check_error_rate(summary, cfg.max_error_rate)
    return summary


def _check(cfg: ScoreConfig) -> None:
    if not cfg.output:
        raise ConfigError(f"-o OUTPUT_DIR with --engine {cfg.engine}", "no -o", "pass -o scored/")
    for flag, given, instead in (
        ("--strict", cfg.strict, "--max-error-rate 0 (checked when every row is written)"),
        ("--threads", cfg.threads, "--threads-per-worker"),
    ):
        if given:
            raise ConfigError(f"no {flag} with --engine {cfg.engine}", flag, f"use {instead}")
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
            "An output path that is free",
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


def _schema(files: list[InputFile]) -> pa.Schema:
    """The inputs' column types as the local engine reads them (whole-file typing for CSV
    and JSONL, read once by the column checks and cached), for the engines' readers."""
    schemas = map_inputs(read_schema, files)
    return pa.unify_schemas(schemas, promote_options="permissive")


def _run_ray(files: list[InputFile], cfg: ScoreConfig, job: dict, progress) -> list[dict]:
    """Ray runs the splits (``engines.splits``) on an actor pool, one part per split."""
    ray = _need("ray", "ray")
    from sentiscore.infer.engines.ray import cluster_cpus, score_splits

    quiet.quiet_ray_loggers()
    if not ray.is_initialized():  # RAY_ADDRESS joins a cluster; else a local one
        options = {} if os.environ.get("RAY_ADDRESS") else quiet.ray_init_options()
        ray.init(include_dashboard=False, log_to_driver=False, **options)
        quiet.quiet_ray_loggers()  # ray.init configures its loggers again
    ray.data.DataContext.get_current().enable_progress_bars = progress
    slots = cfg.workers or max(1, cluster_cpus() // job["threads"])
    plan = splits.plan(files, slots, cfg.limit)
    job = {**job, "bundle": ship_to_ray(cfg.model, None)}
    _clear(cfg.output)
    gpus = cfg.gpus_per_worker or (1 if job["device"] == "cuda" else 0)
    return score_splits(plan, job, cfg.workers, gpus)


def _run_spark(files: list[InputFile], cfg: ScoreConfig, job: dict, progress) -> list[dict]:
    """Spark runs the splits (``engines.splits``): each task reads, scores and writes one
    part with sentiscore's readers and writers, the same as the local engine reads."""
    quiet.quiet_pyspark()
    _need("pyspark", "spark")
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    # Local workers run this interpreter unless told otherwise (a cluster sets its own).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("sentiscore")
    builder = builder.config("spark.ui.showConsoleProgress", str(progress).lower())
    local = not SparkConf().contains("spark.master")
    conf = _spark_conf(cfg, local)
    if local and not SparkConf().contains("spark.driver.extraJavaOptions"):
        conf.update(quiet.spark_local_conf())
    for key, value in conf.items():
        builder = builder.config(key, value) if key != "master" else builder.master(value)
    spark = builder.getOrCreate()
    check_spark_workers(spark)
    slots = max(1, spark.sparkContext.defaultParallelism // job["threads"])
    plan = splits.plan(files, slots, cfg.limit)
    job = {**job, "bundle": ship_to_spark(spark, cfg.model)}
    _clear(cfg.output)
    return (
        spark.sparkContext.parallelize(plan, len(plan))
        .map(lambda split: splits.run_split(split, job))
        .collect()
    )


def _job(cfg: ScoreConfig, text: str, keep, schema: pa.Schema, out_schema: pa.Schema) -> dict:
    """What every split needs (``splits.run_split``), less the bundle as the workers get it."""
    from sentiscore.infer.scorer import resolve_precision

    return {
        "device": _device(cfg),
        "precision": resolve_precision(cfg.model, _device(cfg), cfg.precision, cfg.verify),
        "prefix": cfg.prefix,
        "options": {
            "max_length": cfg.max_length,
            "max_tokens": cfg.max_tokens,
            "verify": cfg.verify,
            "min_score": cfg.min_score,
            "strip_html": cfg.strip_html,
        },
        "threads": cfg.threads_per_worker or 1,
        "provenance": (cfg.source_column, cfg.row_number_column),
        "text": text,
        "keep": keep,
        "in_schema": schema,
        "out_schema": out_schema,
        "output": cfg.output if is_uri(cfg.output) else os.path.abspath(cfg.output),
    }


def _clear(output: str) -> None:
    """An empty output directory (the checks before the job decided it may be replaced)."""
    filesystem, root = _output_fs(output)
    filesystem.create_dir(root, recursive=True)
    filesystem.delete_dir_contents(root, missing_dir_ok=True)


def _remove_scratch(output: str) -> None:
    import shutil

    if not is_uri(output):
        shutil.rmtree(os.path.join(output, "_temporary"), ignore_errors=True)


def _rebuilt(error: str):
    """A worker's SentiscoreError (sent as its parts, in JSON) raised again on the driver."""
    import json

    from sentiscore import errors

    error = json.loads(error)
    cls = getattr(errors, error.get("kind", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.SentiscoreError)):
        cls = errors.SentiscoreError
    if cls.__init__ is not errors.SentiscoreError.__init__:
        cls = errors.SentiscoreError
    return cls(error["expected"], error.get("found"), error.get("fix"))


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
        workers = cfg.workers
        if workers and workers * threads > cores:
            log.warning(
                "--workers %d x --threads-per-worker %d is more than this machine's %d cores: "
                "running %d tasks at once",
                *(workers, threads, cores, cores // threads),
            )
            workers = cores // threads
        slots = f"{workers * threads}" if workers else "*"
        # local[N,F]: a failed task (a killed Python worker) is retried, as on a cluster
        conf["master"] = f"local[{slots},{SPARK_LOCAL_TASK_TRIES}]"
    return conf


# Attempts per task in Spark's local mode (a cluster uses spark.task.maxFailures, default 4).
SPARK_LOCAL_TASK_TRIES = 4


def _device(cfg: ScoreConfig) -> str:
    if cfg.device != "auto":
        return cfg.device
    return "cuda" if cfg.gpus_per_worker else "cpu"


def _need(module: str, extra: str):
    from sentiscore.errors import require

    return require(module, extra, f"--engine {extra}")


def _commit(cfg: ScoreConfig, results: list[dict], seconds: float) -> dict:
    """Raise a split's error again, if any; else commit the output with ``_SUCCESS``, which
    lists the parts the finished attempts wrote, with their rows (object stores have no
    atomic directory rename, so readers trust exactly the listed parts); return the summary."""
    for r in results:
        if r["error"]:
            raise _rebuilt(r["error"])
    _remove_scratch(cfg.output)
    parts = sorted(({k: r[k] for k in ("name", "rows", "errors")} for r in results), key=_name)
    rows = sum(p["rows"] for p in parts)
    summary = {
        "engine": cfg.engine,
        "rows": rows,
        "errors": sum(p["errors"] for p in parts),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1) if seconds else None,
        "outputs": [cfg.output],
    }
    write_marker(*_output_fs(cfg.output), summary, parts)
    return summary


def _name(part: dict) -> str:
    return part["name"]


def _output_fs(output: str):
    """(pyarrow file system, directory path in it) of an engine's output."""
    from pyarrow import fs

    from sentiscore.io.uris import on_filesystem

    filesystem, (path,) = on_filesystem([output])
    if filesystem is None:
        return fs.LocalFileSystem(), os.path.abspath(path)
    return filesystem, path.rstrip("/")


def _uncommit(cfg: ScoreConfig) -> None:
    """Remove a previous run's ``_SUCCESS`` before any part is replaced."""
    remove_marker(*_output_fs(cfg.output))
