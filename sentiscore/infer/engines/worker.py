"""What every cluster worker needs, whatever the engine: the bundle as this worker can open it
(shipped through Ray's object store, through Spark's addFile, or a path, URI or 'default'),
one scorer per worker process for a set of settings, and the driver-side shipping and checks
that make this possible. The engines' job plumbing is in ``ray``, ``spark``, ``splits`` and
``run``; model logic stays in ``scorer``.
"""

from __future__ import annotations

import os

from sentiscore.errors import ConfigError, first_line

_SCORERS: dict = {}


def scorer_for(bundle: str, device: str, precision: str, threads: int | None, **options):
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


def bundle_here(bundle):
    """The bundle on this worker: shipped through Ray's object store (a packed dict), through
    Spark's addFile ('sparkfiles:NAME'), or a path, URI or 'default' it resolves itself."""
    if isinstance(bundle, dict):
        from sentiscore.infer.fetch import unpack_bundle

        return unpack_bundle(bundle)
    if bundle.startswith("sparkfiles:"):
        from pyspark import SparkFiles

        return SparkFiles.get(bundle.removeprefix("sparkfiles:"))
    return bundle


def ship_to_spark(spark, bundle: str) -> str:
    """The bundle name executors resolve: a local directory is shipped with addFile."""
    if bundle == "default" or "://" in bundle or not os.path.isdir(bundle):
        return bundle
    spark.sparkContext.addFile(os.path.abspath(bundle), recursive=True)
    return "sparkfiles:" + os.path.basename(os.path.normpath(bundle))


def ship_to_ray(bundle: str, ship: bool | None):
    """The bundle as the actors get it: a local directory packed as bytes when shipped."""
    from sentiscore.io.uris import is_uri

    if bundle in ("default", None) or is_uri(bundle) or not os.path.isdir(bundle):
        return bundle
    if ship is None:
        import ray

        if not ray.is_initialized():  # what Ray Data would do: RAY_ADDRESS, else local
            ray.init()
        ship = sum(1 for n in ray.nodes() if n.get("Alive")) > 1
    if not ship:
        return bundle
    from sentiscore.infer.fetch import pack_bundle

    return pack_bundle(bundle)


def check_spark_workers(spark) -> None:
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
