"""``sentiscore score``: options -> ``ScoreConfig`` -> ``score_files``; the progress bar and
the summary line."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import sys
import tempfile

import click

from sentiscore.choices import ENGINES, INPUT_FORMATS, OUTPUT_FORMATS
from sentiscore.cli.logs import STATE, Progress, event, native_stderr
from sentiscore.cli.options import (
    CONTEXT,
    LIMIT,
    MAX_LENGTH,
    MAX_TOKENS,
    MODEL,
    STRIP_HTML,
    TEXT_COLUMN,
    THREADS,
    scoring,
)
from sentiscore.errors import ConfigError, OutputError, ScoreInterrupted, SentiscoreError
from sentiscore.io.readers import STDIN_SPOOL


def _progress_bar(total: int | None, silent: bool):
    return None if silent and not STATE["json"] else Progress(total)


@click.command("score", context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True)
@MODEL
@click.option(
    "-o",
    "--output",
    default=None,
    help="Output file, directory (one file per input), or - for stdout (rows stream out as "
    "they are scored; CSV unless --format). Default: <stem>.scored.parquet beside each input; "
    "stdout when the input is -.",
)
@TEXT_COLUMN
@click.option("--id-column", default=None, help="Column always kept in the output (e.g. a row id).")
@click.option(
    "--source-column",
    default=None,
    metavar="NAME",
    help="Add a column NAME holding each row's input file (as named here, or its URI).",
)
@click.option(
    "--row-number-column",
    default=None,
    metavar="NAME",
    help="Add a column NAME holding each row's 0-based position in its input file.",
)
@click.option(
    "--keep-columns",
    default="all",
    show_default=True,
    help="all, none, or a comma-separated list of input columns to keep.",
)
@click.option(
    "--format",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="Output format (default: from the output extension, else parquet; csv for -o -).",
)
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    default=None,
    help="Format of stdin when INPUT is - (default: --format when it names one, else csv); "
    "txt = one text per line.",
)
@click.option("--delimiter", default=None, help="CSV delimiter (default ',' or tab for .tsv).")
@scoring
@THREADS
@MAX_TOKENS
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run (inputs, bundle and options must be unchanged).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output.")
@LIMIT
@click.option(
    "--strict", is_flag=True, help="Stop at the first bad row instead of writing an error column."
)
@click.option(
    "--prefix",
    default=None,
    help="Prefix for prediction columns (default: none, or pred_ when an input column already "
    "has a prediction column's name, such as a labeled file's own 'label').",
)
@click.option(
    "--chunk-rows",
    type=int,
    default=20000,
    show_default=True,
    help="At most this many rows per output part (the unit of --resume); parts are also cut "
    "after about 30 s of scoring, so an interrupted run loses little work.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="local",
    show_default=True,
    help="local: this process. ray / spark: a cluster (RAY_ADDRESS, spark-submit) or all local "
    "cores; -o is then a directory of Parquet parts.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Ray actors / local Spark tasks at once (default: all CPUs).",
)
@click.option(
    "--threads-per-worker",
    type=int,
    default=None,
    help="ONNX Runtime threads, and CPUs requested, per worker (default 1).",
)
@click.option(
    "--gpus-per-worker",
    type=float,
    default=None,
    help="GPUs per Ray actor or Spark task (0.5 puts two on a GPU); implies CUDA.",
)
@MAX_LENGTH
@click.option(
    "--min-score",
    type=float,
    default=None,
    metavar="P",
    help="Rows whose top probability is below P get no label (null label and label_id: "
    "abstain, or neutral) and keep their score and probabilities.",
)
@STRIP_HTML
@click.option(
    "--max-error-rate",
    type=float,
    default=None,
    help="Exit 1 when more than this fraction of rows cannot be scored (e.g. 0.01); the output "
    "is still written.",
)
@click.option("--silent", is_flag=True, help="No progress bar and no summary line.")
@click.option("--stats-json", default=None, help="Write the run summary as JSON here.")
def score_cmd(inputs, output, input_format, silent, **options):
    """Score review files: every input row comes back once, in order, with label, score and
    prob_<label> columns (and an error column for rows that could not be scored).

    INPUTS are files, directories or globs of Parquet, CSV/TSV (.gz too), JSONL or .txt (one
    text per line), or - for stdin.
    """
    from sentiscore.infer.config import ScoreConfig
    from sentiscore.infer.files import total_rows
    from sentiscore.io.readers import discover_inputs

    if "-" in inputs and output is None:
        output = "-"  # stdin in, stdout out
    fmt = options["format"]
    stdin_fmt = input_format or (fmt if fmt in INPUT_FORMATS else "csv")
    with _stdin_spooled(inputs, stdin_fmt) as paths:
        cfg = ScoreConfig(output=None if output == "-" else output, **options)
        bar = (  # the cluster engines draw their own progress
            _progress_bar(total_rows(discover_inputs(paths, cfg.delimiter), cfg.limit), silent)
            if cfg.engine == "local"
            else None
        )
        try:
            with _sigterm_as_interrupt():
                engine_bars = not (silent or STATE["json"])  # Ray's and Spark's own bars
                stats = _run(paths, cfg, output == "-", bar, engine_bars)
        except ScoreInterrupted as exc:
            raise ScoreInterrupted(exc.saved_rows, exc.where + _resume_hint(cfg.resume)) from None
        finally:
            if bar:
                bar.close()
    if STATE["json"]:
        event("summary", **stats)
    elif not silent:
        where = "stdout" if output == "-" else ", ".join(stats["outputs"])
        click.echo(_score_summary(stats, where), err=True)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a job scheduler stopping us) ends the run like Ctrl-C: saved parts are kept
    and the message says how to resume."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. inside a test runner thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _run(paths: list[str], cfg, to_stdout: bool, progress, engine_bars: bool) -> dict:
    from sentiscore.infer.files import score_files
    from sentiscore.infer.stream import score_stream

    if cfg.engine != "local":
        from sentiscore.infer.engines.run import score_on_engine

        with native_stderr(cfg.engine, engine_bars):
            return score_on_engine(paths, cfg, progress=engine_bars)
    if not to_stdout:
        return score_files(paths, cfg, progress=progress)
    stdout = click.get_binary_stream("stdout")
    try:
        return score_stream(paths, stdout, cfg, progress=progress)
    except BrokenPipeError:  # the reader went away (e.g. '| head'): stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
        raise SystemExit(0) from None
    except OSError as exc:  # e.g. a full disk behind the redirection: one line, not a trace
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the exit flush would fail again
        raise OutputError.from_os(exc, "<stdout>") from None


def _resume_hint(already: bool) -> str:
    args = [a for a in sys.argv[1:] if a != "--overwrite"]
    if not already:
        args.append("--resume")
    prog = "score" if os.path.basename(sys.argv[0]) == "score" else "sentiscore"
    return f"; resume with: {prog} {shlex.join(args)}"


@contextlib.contextmanager
def _stdin_spooled(inputs: tuple, fmt: str):
    """INPUTS with '-' replaced by a temporary copy of stdin (named for its format, so that it
    is read as such), deleted afterwards."""
    if "-" not in inputs:
        yield list(inputs)
        return
    if inputs.count("-") > 1:
        raise click.UsageError("'-' (stdin) can be given once")
    tmp = tempfile.mkdtemp(prefix=STDIN_SPOOL)
    path = os.path.join(tmp, f"stdin.{fmt}")
    try:
        with open(path, "wb") as f:
            shutil.copyfileobj(_stdin(), f, 1 << 20)
        yield [path if i == "-" else i for i in inputs]
    except SentiscoreError as exc:  # name what the user gave, not the temporary copy
        parts = (exc.expected, exc.found, exc.fix)
        exc.expected, exc.found, exc.fix = (p and p.replace(path, "<stdin>") for p in parts)
        exc.args = tuple(str(a).replace(path, "<stdin>") for a in exc.args)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stdin():
    """The binary stdin, or a one-line error when it is closed (``0<&-``)."""
    try:
        return click.get_binary_stream("stdin")
    except (RuntimeError, OSError, ValueError):
        raise ConfigError(
            "An open stdin for the input '-'", "stdin is closed", "pipe data in: ... | score -"
        ) from None


def _score_summary(stats: dict, destination: str) -> str:
    """The one line ``score`` prints at the end."""
    if "engine" in stats:
        return (
            f"scored {stats['rows']} rows ({stats['errors']} errors) in {stats['seconds']:.1f}s, "
            f"{stats['rows_per_s'] or 0:.1f} rows/s on {stats['engine']} -> {destination}"
        )
    earlier = stats.get("rows_in_outputs", stats["rows"]) - stats.get("rows_written", 0)
    if not stats.get("rows_written") and earlier > 0:
        return f"already complete: {earlier} rows in {destination}, nothing left to score"
    total = f" ({earlier + stats['rows_written']} rows in all)" if earlier > 0 else ""
    return (
        f"scored {stats['rows']} rows ({stats['errors']} errors, {stats['truncated']} truncated) "
        f"in {stats['seconds']:.1f}s, "
        f"{stats['rows_per_s'] or 0:.1f} rows/s, padding efficiency "
        f"{stats['padding_efficiency']:.2f}, {stats['precision']} on {stats['device']} "
        f"-> {destination}{total}"
    )
