"""score_files: the streaming file pipeline around ``Scorer.score_batch``.

inputs -> bounded record batches (``sentiscore.io``) -> fixed-size chunks -> score_batch ->
one Parquet part per chunk (atomic rename) -> final file in the chosen format. A manifest in
``<output>.parts/`` fingerprints the inputs, the bundle and the options so that ``resume``
continues a killed run and ends with exactly what an uninterrupted run writes. Reading, text
checks and tokenising run in a background thread and part writes in another, so that they
overlap with ONNX Runtime. Progress goes to a callback; drawing a bar is the CLI's job.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from sentiscore.errors import ConfigError, InputDataError, OutputExistsError, ResumeError
from sentiscore.infer.config import ScoreConfig
from sentiscore.infer.scorer import Scorer
from sentiscore.io.readers import (
    InputFile,
    count_rows,
    discover_inputs,
    fingerprint,
    iter_batches,
    read_schema,
)
from sentiscore.io.writers import PartWriter, concat_parts, extension, output_format

log = logging.getLogger(__name__)
MANIFEST_NAME = "manifest.json"


@dataclass
class Job:
    inputs: list[InputFile]
    output: str
    fmt: str

    @property
    def parts_dir(self) -> str:
        return self.output + ".parts"


def plan_jobs(inputs: list[InputFile], cfg: ScoreConfig) -> list[Job]:
    """One output per input (beside it, or under -o DIR), or all inputs into one -o FILE."""
    out = cfg.output
    to_dir = out is not None and (out.endswith(("/", os.sep)) or os.path.isdir(out))
    if out is not None and not to_dir:
        return [Job(inputs, out, output_format(out, cfg.format))]
    fmt = cfg.format or "parquet"
    jobs = []
    for inp in inputs:
        parent = out if to_dir else (os.path.dirname(inp.path) if "://" not in inp.path else ".")
        jobs.append(Job([inp], os.path.join(parent, f"{inp.stem}.scored{extension(fmt)}"), fmt))
    names = [j.output for j in jobs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise OutputExistsError(
            "One output file per input",
            f"several inputs map to {dup}",
            "pass -o FILE to combine them, or rename inputs",
        )
    return jobs


def _chunks(
    inputs: list[InputFile], rows: int, limit: int | None
) -> Iterator[tuple[int, int, pa.RecordBatch]]:
    """Yield (chunk index, row offset within its input, batch of <= rows rows), in order."""
    index, left = 0, limit
    for inp in inputs:
        offset, pending, pending_rows = 0, [], 0
        for batch in iter_batches(inp, batch_rows=min(rows, 8192)):
            if left is not None:
                batch = batch.slice(0, left)
                left -= batch.num_rows
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= rows:
                yield index, offset, _combine(pending)
                index, offset, pending, pending_rows = index + 1, offset + pending_rows, [], 0
            if left == 0:
                break
        if pending_rows:
            yield index, offset, _combine(pending)
            index += 1
        if left == 0:
            return


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``items`` in a background thread, ``depth`` items ahead."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            q.put(("error", exc))

    t = threading.Thread(target=work, daemon=True, name="sentiscore-reader")
    t.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def _manifest(job: Job, scorer: Scorer, cfg: ScoreConfig) -> dict:
    return {
        "inputs": [fingerprint(i) for i in job.inputs],
        "bundle": scorer.bundle.fingerprint(),
        "precision": scorer.precision,
        "device": scorer.device,
        "options": cfg.result_affecting(),
    }


def _prepare_output(job: Job, manifest: dict, cfg: ScoreConfig) -> bool:
    """Apply --resume/--overwrite to existing output. Return False when the job is already done."""
    exists, parts = os.path.exists(job.output), os.path.isdir(job.parts_dir)
    if cfg.overwrite:
        if exists:
            os.remove(job.output)
        shutil.rmtree(job.parts_dir, ignore_errors=True)
    elif cfg.resume and parts:
        mpath = os.path.join(job.parts_dir, MANIFEST_NAME)
        old = json.load(open(mpath, encoding="utf-8")) if os.path.exists(mpath) else None
        if old != manifest:
            what = [k for k in manifest if old is None or old.get(k) != manifest[k]]
            raise ResumeError(
                "--resume to continue with the same inputs, bundle and options",
                f"changed since the interrupted run: {', '.join(what) or 'manifest missing'}",
                "use --overwrite to start again",
            )
    elif cfg.resume and exists:
        log.info("%s is complete; nothing to resume", job.output)
        return False
    elif exists or parts:
        raise OutputExistsError(
            "No existing output",
            f"'{job.output if exists else job.parts_dir}' exists",
            "pass --resume to continue it or --overwrite to replace it",
        )
    os.makedirs(job.parts_dir, exist_ok=True)
    tmp = os.path.join(job.parts_dir, MANIFEST_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(job.parts_dir, MANIFEST_NAME))
    return True


def _keep_with_id(cfg: ScoreConfig):
    """--keep-columns, with --id-column always among the kept columns."""
    if not cfg.id_column or cfg.keep_columns in ("all", None):
        return cfg.keep_columns
    rest = [] if cfg.keep_columns == "none" else [c.strip() for c in cfg.keep_columns.split(",")]
    return list(dict.fromkeys([cfg.id_column, *rest]))


def _run_job(
    job: Job, scorer: Scorer, cfg: ScoreConfig, limit: int | None, progress: Callable[[int], None]
) -> int:
    """Score one job; return rows written."""
    keep = _keep_with_id(cfg)
    for inp in job.inputs:  # fail fast on a missing column or clash, before touching output
        schema = read_schema(inp)
        if cfg.id_column and cfg.id_column not in schema.names:
            raise InputDataError(
                f"An id column named '{cfg.id_column}' in '{inp.path}'",
                f"columns {schema.names}",
                "pass --id-column NAME, or leave it out",
            )
        scorer.check_columns(schema, cfg.text_column, keep, cfg.prefix)
    if not _prepare_output(job, _manifest(job, scorer, cfg), cfg):
        return 0
    writer = PartWriter(job.parts_dir)

    def prepared():  # in the reader thread: read, check and tokenise ahead of the model
        for index, offset, chunk in _chunks(job.inputs, cfg.chunk_rows, limit):
            todo = not writer.done(index)
            args = (chunk, cfg.text_column, keep, cfg.prefix, cfg.strict, offset)
            yield index, chunk.num_rows, scorer.prepare(*args) if todo else None

    with ThreadPoolExecutor(1, thread_name_prefix="sentiscore-writer") as pool:
        pending = None  # one part write in flight while the next chunk runs
        for index, rows, prep in prefetch(prepared()):
            if prep is not None:
                out = scorer.finish(prep)
                if pending is not None:
                    pending.result()
                pending = pool.submit(writer.write, index, out)
            progress(rows)
        if pending is not None:
            pending.result()
    parts = writer.parts()
    rows = concat_parts(parts, job.output, job.fmt)
    shutil.rmtree(job.parts_dir, ignore_errors=True)
    return rows


def total_rows(inputs: list[InputFile], limit: int | None) -> int | None:
    counts = [count_rows(i) for i in inputs]
    total = None if any(c is None for c in counts) else sum(counts)
    if limit is not None:
        return limit if total is None else min(total, limit)
    return total


def score_files(
    inputs,
    cfg: ScoreConfig | None = None,
    progress: Callable[[int], None] | None = None,
    scorer: Scorer | None = None,
    **options,
) -> dict:
    """Score files, directories or globs into output files. Returns the run summary.

    ``options`` are ScoreConfig fields, for ``score_files(["a.parquet"], output="out/")``.
    """
    cfg = cfg or ScoreConfig(**options)
    specs = [inputs] if isinstance(inputs, str) else list(inputs)
    files = discover_inputs(specs, cfg.delimiter)
    jobs = plan_jobs(files, cfg)
    scorer = scorer or Scorer.load(
        cfg.model, cfg.device, cfg.precision, cfg.threads, cfg.max_tokens
    )
    progress = progress or (lambda n: None)
    start, written, left = time.perf_counter(), 0, cfg.limit
    for job in jobs:
        rows = _run_job(job, scorer, cfg, left, progress)
        written += rows
        if left is not None:
            left -= rows
            if left <= 0:
                break
    seconds = time.perf_counter() - start
    stats = {
        **scorer.stats.as_dict(),
        "rows_written": written,
        "seconds": round(seconds, 3),
        "rows_per_s": round(scorer.stats.rows / seconds, 2) if seconds else None,
        "device": scorer.device,
        "precision": scorer.precision,
        "outputs": [j.output for j in jobs],
    }
    if cfg.stats_json:
        _write_stats(cfg.stats_json, stats)
    return stats


def _write_stats(path: str, stats: dict) -> None:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(stats, f, indent=2)
    except OSError as exc:
        raise ConfigError(
            "A writable --stats-json path (the scored output itself is complete)",
            f"'{path}': {exc.strerror or exc} ({exc.filename or path})",
            "choose another path",
        ) from exc
