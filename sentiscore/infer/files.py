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

from sentiscore.choices import TEXT_NAMES
from sentiscore.errors import (
    BadRowError,
    ConfigError,
    InputDataError,
    OutputExistsError,
    ResumeError,
    ScoreInterrupted,
)
from sentiscore.infer.config import ScoreConfig
from sentiscore.infer.scorer import Scorer, is_text_type
from sentiscore.io.columns import pick_column
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


def _manifest(job: Job, scorer: Scorer, cfg: ScoreConfig, text_column: str) -> dict:
    return {
        "inputs": [fingerprint(i) for i in job.inputs],
        "bundle": scorer.bundle.fingerprint(),
        "precision": scorer.precision,
        "device": scorer.device,
        "options": {**cfg.result_affecting(), "text_column": text_column},
    }


def _changed(old: dict | None, new: dict) -> str:
    """What differs between two manifests, naming options as --flags."""
    if old is None:
        return "the manifest is missing"
    what = []
    for key in new:
        if key == "options":
            opts = old.get("options") or {}
            what += [
                f"--{k.replace('_', '-')} {opts.get(k)!r} -> {v!r}"
                for k, v in new["options"].items()
                if opts.get(k) != v
            ]
        elif old.get(key) != new[key]:
            what.append(
                {"inputs": "the input files", "bundle": "the bundle (--model)"}.get(key, key)
            )
    return ", ".join(what) or "the manifest format"


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
            raise ResumeError(
                "--resume to continue with the same inputs, bundle and options",
                f"changed since the interrupted run: {_changed(old, manifest)}",
                "rerun with the earlier values, or use --overwrite to start again",
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


def check_inputs(inputs: list[InputFile], scorer: Scorer, cfg: ScoreConfig) -> tuple:
    """(kept columns, text column) for these inputs; fails fast, before any output is
    touched, on a missing id or text column, a non-text column or a name clash."""
    keep, text_column = _keep_with_id(cfg), cfg.text_column
    for inp in inputs:
        schema = read_schema(inp)
        if cfg.id_column and cfg.id_column not in schema.names:
            raise InputDataError(
                f"An id column named '{cfg.id_column}' in '{inp.path}'",
                f"columns {schema.names}",
                "pass --id-column NAME, or leave it out",
            )
        if text_column is None:
            text_column = pick_column(
                schema.names,
                None,
                TEXT_NAMES,
                "text",
                "--text-column",
                where=inp.path,
                suggest=[f.name for f in schema if is_text_type(f.type)],
            )
        scorer.check_columns(schema, text_column, keep, cfg.prefix)
    return keep, text_column


def _run_job(
    job: Job, scorer: Scorer, cfg: ScoreConfig, limit: int | None, progress: Callable[[int], None]
) -> int:
    """Score one job; return rows written."""
    keep, text_column = check_inputs(job.inputs, scorer, cfg)
    if not _prepare_output(job, _manifest(job, scorer, cfg, text_column), cfg):
        return 0
    writer = PartWriter(job.parts_dir)

    def prepared():  # in the reader thread: read, check and tokenise ahead of the model
        for index, offset, chunk in _chunks(job.inputs, cfg.chunk_rows, limit):
            todo = not writer.done(index)
            args = (chunk, text_column, keep, cfg.prefix, cfg.strict, offset)
            yield index, chunk.num_rows, scorer.prepare(*args) if todo else None

    with ThreadPoolExecutor(1, thread_name_prefix="sentiscore-writer") as pool:
        pending = None  # one part write in flight while the next chunk runs
        try:
            for index, rows, prep in prefetch(prepared()):
                if prep is not None:
                    out = scorer.finish(prep)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write, index, out)
                progress(rows)
        except KeyboardInterrupt:
            if pending is not None:
                pending.result()  # a part being written is finished, not lost
            saved = _saved_rows(writer.parts())
            raise ScoreInterrupted(saved, f"parts in {job.parts_dir}") from None
        if pending is not None:
            pending.result()
    parts = writer.parts()
    rows = concat_parts(parts, job.output, job.fmt)
    shutil.rmtree(job.parts_dir, ignore_errors=True)
    return rows


def _saved_rows(parts: list[str]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)


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
        cfg.model, cfg.device, cfg.precision, cfg.threads, cfg.max_tokens, max_length=cfg.max_length
    )
    progress = progress or (lambda n: None)
    start, written, left = time.perf_counter(), 0, cfg.limit
    for job in jobs:
        try:
            rows = _run_job(job, scorer, cfg, left, progress)
        except ScoreInterrupted as exc:
            if written:
                done = ", ".join(j.output for j in jobs[: jobs.index(job)])
                raise ScoreInterrupted(
                    written + exc.saved_rows, f"complete: {done}; {exc.where}"
                ) from None
            raise
        written += rows
        if left is not None:
            left -= rows
            if left <= 0:
                break
    return finish_run(scorer, cfg, start, written, [j.output for j in jobs])


def finish_run(scorer: Scorer, cfg: ScoreConfig, start: float, written: int, outputs) -> dict:
    """The run summary; warns about truncation, writes --stats-json, applies --max-error-rate."""
    seconds = time.perf_counter() - start
    stats = {
        **scorer.stats.as_dict(),
        "rows_written": written,
        "seconds": round(seconds, 3),
        "rows_per_s": round(scorer.stats.rows / seconds, 2) if seconds else None,
        "device": scorer.device,
        "precision": scorer.precision,
        "outputs": list(outputs),
    }
    _warn_truncation(stats, scorer)
    if cfg.stats_json:
        _write_stats(cfg.stats_json, stats)
    _check_error_rate(stats, cfg.max_error_rate)
    return stats


def _warn_truncation(stats: dict, scorer: Scorer) -> None:
    scored = stats["rows"] - stats["errors"]
    if scored and stats["truncated"] * 2 > scored:
        log.warning(
            "%d of %d scored rows (%.0f %%) were longer than %d tokens and were cut (%s "
            "truncation): their scores see only part of the text",
            stats["truncated"],
            scored,
            100 * stats["truncated"] / scored,
            scorer.max_length,
            scorer.bundle.truncation,
        )


def _check_error_rate(stats: dict, limit: float | None) -> None:
    if limit is None or not stats["rows"]:
        return
    rate = stats["errors"] / stats["rows"]
    if rate > limit:
        raise BadRowError(
            f"At most {limit:.2%} of rows that cannot be scored (--max-error-rate)",
            f"{stats['errors']} of {stats['rows']} rows ({rate:.2%}) have an error",
            f"see the error column in {', '.join(stats['outputs'])} (written in full)",
        )


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
