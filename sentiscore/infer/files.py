"""score_files: the streaming file pipeline around ``Scorer.score_batch``.

inputs -> bounded record batches (``sentiscore.io``) -> chunks (about 30 s of scoring each,
bounded in rows and bytes) -> score_batch -> one Parquet part per chunk (atomic rename, recorded
in a ledger) -> final file in the chosen format. Where outputs go and what a resume may reuse
(manifests, finished outputs) is ``outputs``'s business, so that ``resume`` continues a killed
run and ends with exactly what an uninterrupted run writes. Reading, text checks and
tokenising run in a background thread and part writes in another, so that they overlap with
ONNX Runtime. Progress goes to a callback per micro-batch; drawing a bar is the CLI's job.
Every input is checked (``checks``) before the first job scores a row.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from sentiscore.errors import (
    BadRowError,
    ConfigError,
    InputDataError,
    OutputError,
    ScoreInterrupted,
)
from sentiscore.infer.checks import check_inputs
from sentiscore.infer.chunking import PartSizer, chunks
from sentiscore.infer.config import ScoreConfig
from sentiscore.infer.outputs import (
    METADATA_KEY,
    Job,
    finish,
    finished_rows,
    manifest,
    plan_jobs,
    prepare_output,
)
from sentiscore.infer.scorer import Scorer
from sentiscore.io.lock import locked
from sentiscore.io.readers import (
    InputFile,
    count_rows,
    discover_inputs,
    map_inputs,
)
from sentiscore.io.writers import PartWriter, concat_parts

log = logging.getLogger(__name__)


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
        # Wait for the reader to leave native code (tokenizers): a daemon thread still inside
        # it when the interpreter exits aborts the process.
        t.join(timeout=60)


@contextlib.contextmanager
def _writing(path: str):
    """OSErrors while writing output become one-line OutputErrors naming the path."""
    try:
        yield
    except OSError as exc:
        raise OutputError.from_os(exc, path) from exc


def _run_job(
    job: Job,
    scorer: Scorer,
    cfg: ScoreConfig,
    limit: int | None,
    progress: Callable[[int], None],
    checked: tuple,
) -> tuple[int, int]:
    """Score one job; return (rows written now, rows in the output). ``checked``: its inputs'
    ``check_inputs``, settled before the first job ran."""
    keep, text_column, prefix = checked
    options = {**cfg.result_affecting(), "text_column": text_column, "prefix": prefix}
    wanted = manifest(job, scorer, options, limit)
    with _writing(job.remote or job.output):
        if not prepare_output(job, wanted, cfg):
            return 0, finished_rows(job)
        writer = PartWriter(job.parts_dir)
    index, skip = writer.resume_point()
    progress(skip)
    sizer = PartSizer(cfg.chunk_rows)

    def prepared():  # in the reader thread: read, check and tokenise ahead of the model
        at = skip
        tags = (cfg.source_column, cfg.row_number_column)
        parts = chunks(job.inputs, sizer, limit, skip, index, tags, sizer.max_bytes)
        for i, origin, chunk in parts:
            args = (chunk, text_column, keep, prefix, cfg.strict, origin)
            yield i, at, scorer.prepare(*args)
            at += chunk.num_rows

    with (
        ThreadPoolExecutor(1, thread_name_prefix="sentiscore-writer") as pool,
        _writing(job.parts_dir),
    ):
        pending = None  # one part write in flight while the next chunk runs
        try:
            for i, at, prep in prefetch(prepared()):
                began = time.perf_counter()
                out = scorer.finish(prep, progress)
                progress(out.num_rows - len(prep.ids))  # rows that could not be scored
                sizer.record(out.num_rows, time.perf_counter() - began)
                if pending is not None:
                    pending.result()
                pending = pool.submit(writer.write, i, out, at)
        except KeyboardInterrupt:
            if pending is not None:
                pending.result()  # a part being written is finished, not lost
            raise ScoreInterrupted(writer.rows(), f"parts in {job.parts_dir}") from None
        except InputDataError as exc:  # e.g. the store went away mid-read
            if pending is not None:
                pending.result()
            raise _resumable(exc, writer.rows()) from exc
        if pending is not None:
            pending.result()
    with _writing(job.remote or job.output):
        rows = concat_parts(writer.parts(), job.output, job.fmt, {METADATA_KEY: json.dumps(wanted)})
        finish(job)  # an object-store output is uploaded in one piece, only now
        shutil.rmtree(job.parts_dir, ignore_errors=True)
    return rows - skip, rows  # ``skip``: the rows an earlier run had saved


def _resumable(exc: InputDataError, saved: int) -> InputDataError:
    """``exc`` with the way on: parts already scored are kept for ``--resume``."""
    if not saved or isinstance(exc, BadRowError):  # --strict stops are not resumed
        return exc
    fix = f"{exc.fix or 'make the input readable'}; then rerun with --resume: "
    return type(exc)(exc.expected, exc.found, fix + f"the {saved} rows scored so far are kept")


def load_scorer(cfg: ScoreConfig) -> Scorer:
    return Scorer.load(
        cfg.model,
        cfg.device,
        cfg.precision,
        cfg.threads,
        cfg.max_tokens,
        verify=cfg.verify,
        max_length=cfg.max_length,
        min_score=cfg.min_score,
        strip_html=cfg.strip_html,
    )


def total_rows(inputs: list[InputFile], limit: int | None) -> int | None:
    counts = map_inputs(count_rows, inputs)
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
    files = discover_inputs(specs, cfg.delimiter, cfg.text_column)
    jobs = plan_jobs(files, cfg)
    scorer = scorer or load_scorer(cfg)
    # every input checked before the first row is scored (a bad last file fails up front)
    checked = [check_inputs(job.inputs, scorer.labels, cfg) for job in jobs]
    progress = progress or (lambda n: None)
    start = time.perf_counter()
    with locked([j.output for j in jobs]):  # no other run writes these outputs meanwhile
        written, total = _run_jobs(jobs, checked, scorer, cfg, progress)
    outputs = [j.remote or j.output for j in jobs]
    return finish_run(scorer, cfg, start, written, outputs, total)


def _run_jobs(jobs: list[Job], checked: list, scorer: Scorer, cfg: ScoreConfig, progress):
    """Run the jobs in order, under --limit; return (rows written now, rows in outputs)."""
    written, left, total = 0, cfg.limit, 0
    for job, settled in zip(jobs, checked, strict=True):
        try:
            rows, in_output = _run_job(job, scorer, cfg, left, progress, settled)
        except ScoreInterrupted as exc:
            if written:
                done = ", ".join(j.output for j in jobs[: jobs.index(job)])
                raise ScoreInterrupted(
                    written + exc.saved_rows, f"complete: {done}; {exc.where}"
                ) from None
            raise
        written, total = written + rows, total + in_output
        if left is not None:
            left -= in_output
            if left <= 0:
                break
    return written, total


def finish_run(
    scorer: Scorer, cfg: ScoreConfig, start: float, written: int, outputs, in_outputs=None
) -> dict:
    """The run summary; warns about truncation, writes --stats-json, applies --max-error-rate.
    ``in_outputs``: rows the outputs hold in all (a resumed run's earlier rows included)."""
    seconds = time.perf_counter() - start
    stats = {
        **scorer.stats.as_dict(),
        "rows_written": written,
        "rows_in_outputs": written if in_outputs is None else in_outputs,
        "seconds": round(seconds, 3),
        "rows_per_s": round(scorer.stats.rows / seconds, 2) if seconds else None,
        "device": scorer.device,
        "precision": scorer.precision,
        "outputs": list(outputs),
    }
    _warn_truncation(stats, scorer)
    if cfg.stats_json:
        write_stats(cfg.stats_json, stats)
    check_error_rate(stats, cfg.max_error_rate)
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


def check_error_rate(stats: dict, limit: float | None) -> None:
    if limit is None or not stats["rows"]:
        return
    rate = stats["errors"] / stats["rows"]
    if rate > limit:
        raise BadRowError(
            f"At most {limit:.2%} of rows that cannot be scored (--max-error-rate)",
            f"{stats['errors']} of {stats['rows']} rows ({rate:.2%}) have an error",
            f"see the error column in {', '.join(stats['outputs'])} (written in full)",
        )


def write_stats(path: str, stats: dict) -> None:
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
