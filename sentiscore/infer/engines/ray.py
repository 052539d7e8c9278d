"""Ray Data adapter: ``score_dataset(ds, ...)`` maps ``Scorer.score_batch`` over a Ray
Dataset with one Scorer per actor (the model loads once per actor; the driver only settles
``--precision auto`` once, so that every actor runs the same variant).

Sizing: each actor asks Ray for as many CPUs as the threads it runs (``threads``, default 1),
and by default as many actors run as fit the cluster's CPUs with one CPU left over for the
tasks that read blocks, so actors never starve the readers (all CPUs taken by actors is a
deadlock). ``read_inputs`` and ``write_parquet`` are helpers for files: enough blocks for every
actor, and output files named by block, so that a rerun writes the same names.
``score_splits`` runs the CLI's splits (``engines.splits``) on an actor pool. Needs the
``ray`` extra; model logic stays in ``scorer``.
"""

from __future__ import annotations

import logging
import os

import pyarrow as pa

from sentiscore.errors import ConfigError, require
from sentiscore.infer.engines.worker import ship_to_ray

log = logging.getLogger(__name__)


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
        options: dict | None = None,
    ):
        from sentiscore.infer.engines.worker import bundle_here
        from sentiscore.infer.scorer import Scorer

        self.scorer = Scorer.load(
            bundle_here(bundle),  # shipped from the driver (another machine), or a name
            device=device,
            precision=precision,
            threads=threads,
            **(options or {}),
        )
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


class _SplitActor:
    """Runs the CLI's splits (``engines.splits``): one scorer per actor, one part per split."""

    def __init__(self, plan: list, job: dict):
        self.plan, self.job = plan, job

    def __call__(self, row: dict) -> dict:
        from sentiscore.infer.engines.splits import run_split

        return run_split(self.plan[row["index"]], self.job)


def score_splits(plan: list, job: dict, concurrency: int | None, num_gpus: float | None):
    """Run ``plan`` on an actor pool; return what each split reports (name, rows, error).
    No read tasks run beside the actors (each reads its own split), so the actors may take
    every CPU."""
    import ray.data

    threads = job["threads"]
    most = max(1, cluster_cpus() // threads)
    actors = min(concurrency or most, most, len(plan))
    if concurrency and concurrency > most:
        log.warning(
            "%d actors of %d CPUs do not fit this %d-CPU Ray cluster: running %d",
            *(concurrency, threads, cluster_cpus(), most),
        )
    # one block per split, made on the driver: no task needs a CPU besides the actors
    ds = ray.data.from_items(
        [{"index": i} for i in range(len(plan))], override_num_blocks=len(plan)
    )
    done = ds.map(
        _SplitActor,
        fn_constructor_args=(plan, job),
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads,
        num_gpus=num_gpus or 0,
    )
    return done.take_all()


def cluster_cpus() -> int:
    """CPUs of the Ray cluster (this machine's when Ray is not started yet)."""
    import ray

    if ray.is_initialized():
        return int(ray.cluster_resources().get("CPU", 1))
    return os.cpu_count() or 1


def default_concurrency(threads: int) -> int:
    """Actors of ``threads`` CPUs each that fit the cluster with one CPU left for reading."""
    return max(1, (cluster_cpus() - 1) // max(1, threads))


def _fitting(concurrency, threads: int):
    """``concurrency`` capped so that the actors' CPUs leave one for the read tasks: actors
    holding every CPU wait forever for blocks that no task can read."""
    most = default_concurrency(threads)
    if isinstance(concurrency, tuple):  # an autoscaling pool grows only into free CPUs
        low, high = concurrency
        return (min(low, most), high)
    if concurrency > most:
        log.warning(
            "%d actors of %d CPUs would take every CPU of this %d-CPU Ray cluster and leave "
            "none for reading: running %d (pass fewer --workers, or add CPUs)",
            concurrency,
            threads,
            cluster_cpus(),
            most,
        )
        return most
    return concurrency


def score_dataset(
    ds,
    bundle: str = "default",
    text_column: str = "text",
    keep_columns="all",
    prefix: str | None = None,
    device: str = "cpu",
    precision: str = "auto",
    threads: int | None = None,
    concurrency: int | tuple[int, int] | None = None,
    num_gpus: float | None = None,
    batch_size: int = 4096,
    ray_remote_args: dict | None = None,
    actors: int | None = None,
    ship_bundle: bool | None = None,
    max_length: int | None = None,
    max_tokens: int | None = None,
    verify: bool = True,
    min_score: float | None = None,
    strip_html: bool = False,
):
    """Return a Ray Dataset with the prediction columns appended (lazy, like any Ray op).

    threads: CPU threads per actor, also the CPUs each actor requests (default 1).
    concurrency: actors, or (min, max) for an autoscaling pool; default: the cluster's CPUs
        less one, divided by ``threads`` (``actors`` is the older name of this argument).
    num_gpus: GPUs per actor for device 'cuda' (fractions share a GPU; default 1).
    ray_remote_args: further options for the actors (resources, runtime_env, ...).
    ship_bundle: send a local bundle directory to the actors through Ray's object store, so
        that it need not exist on every machine (default: when the cluster has more than one
        node). 'default' and bundle URIs (s3://...) are resolved by each actor itself.
    max_length, max_tokens, verify, min_score, strip_html: as ``Scorer.load`` (the CLI's
    --max-length, --max-tokens, --no-verify, --min-score, --strip-html).
    """
    from sentiscore.infer.scorer import resolve_precision

    ray_data = require("ray.data", "ray", "Scoring on Ray Data")
    threads = threads or 1
    if threads < 1:
        raise ConfigError("threads >= 1", str(threads), "drop it or pass a positive number")
    concurrency = _fitting(concurrency or actors or default_concurrency(threads), threads)
    if num_gpus is None:
        num_gpus = 1 if device == "cuda" else 0
    precision = resolve_precision(bundle, device, precision, verify)  # once, for all actors
    return ds.map_batches(
        _ScoreActor,
        fn_constructor_args=(
            ship_to_ray(bundle, ship_bundle),
            *(device, precision, threads, text_column, keep_columns, prefix),
            {
                "max_length": max_length,
                "max_tokens": max_tokens,
                "verify": verify,
                "min_score": min_score,
                "strip_html": strip_html,
            },
        ),
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=_actor_pool(ray_data, concurrency),
        num_cpus=threads,
        num_gpus=num_gpus,
        **(ray_remote_args or {}),
    )


def _actor_pool(ray_data, concurrency: int | tuple[int, int]):
    if isinstance(concurrency, tuple):
        return ray_data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    return ray_data.ActorPoolStrategy(size=concurrency)


def read_inputs(
    paths: list[str],
    blocks: int | None = None,
    schema: pa.Schema | None = None,
    delimiter: str = ",",
):
    """A Ray Dataset over Parquet, CSV or JSONL files (one format per call; local paths or
    URIs such as s3://bucket/key?endpoint_override=...), in at least ``blocks`` blocks
    (default: two per CPU), so that every actor has work. ``schema``: the column types for
    CSV and JSONL (e.g. sentiscore's whole-file typing, so that ids like 007 stay text and
    every block agrees), instead of what Ray infers from each block."""
    import ray.data

    from sentiscore.io.readers import detect_format

    formats = {detect_format(p) for p in paths}
    if len(formats) != 1 or next(iter(formats)) not in ("parquet", "csv", "jsonl"):
        raise ConfigError(
            "Inputs of one format: Parquet, CSV or JSONL",
            f"{sorted(str(f) for f in formats)} in {paths[:3]}",
            "score each format separately",
        )
    fmt = formats.pop()
    blocks = blocks or 2 * cluster_cpus()
    from sentiscore.io.uris import on_filesystem

    filesystem, paths = on_filesystem(paths)
    args = {"filesystem": filesystem, "override_num_blocks": blocks}
    if fmt == "parquet":
        ds = ray.data.read_parquet(paths, **args)
    elif fmt == "csv":
        from pyarrow import csv

        types = {f.name: f.type for f in schema} if schema is not None else None
        ds = ray.data.read_csv(
            paths,
            parse_options=csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=csv.ConvertOptions(column_types=types, strings_can_be_null=False),
            **args,
        )
    else:
        from pyarrow import json

        ds = ray.data.read_json(
            paths, parse_options=json.ParseOptions(explicit_schema=schema), **args
        )
    # Ray merges small files into few blocks; split them again so that every actor has work.
    return ds.repartition(blocks)


def write_parquet(ds, out_dir: str) -> None:
    """Write ``ds`` as Parquet files named by write task under ``out_dir`` (a local directory
    or a URI), replacing what is there: a rerun writes the same files instead of adding new
    ones."""
    from ray.data import SaveMode
    from ray.data.datasource import FilenameProvider

    class TaskNames(FilenameProvider):
        def get_filename_for_task(self, write_uuid, task_index):
            return f"part-{task_index:05d}.parquet"

        def get_filename_for_block(self, block, write_uuid, task_index, block_index):
            return f"part-{task_index:05d}-{block_index:03d}.parquet"

    from sentiscore.io.uris import on_filesystem

    filesystem, (path,) = on_filesystem([out_dir])
    # deterministic names need overwrite mode (Ray refuses names without its run id otherwise)
    ds.write_parquet(
        path, filesystem=filesystem, filename_provider=TaskNames(), mode=SaveMode.OVERWRITE
    )
