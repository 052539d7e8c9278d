"""The subcommands behind ``cli.py``: each maps its options onto a config dataclass, calls the
library, and prints. Heavy stages are imported inside the command that needs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEVICE = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto uses CUDA when onnxruntime-gpu offers it; cuda never falls back silently.",
)
PRECISION = click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "int8", "fp16"]),
    default="auto",
    show_default=True,
    help="Bundle variant. auto = the fastest row-invariant one: per-row int8 on CPU, fp16 on "
    "CUDA, else fp32; a per-tensor (stock dynamic) int8 variant gives batch-dependent scores "
    "and is used only when asked for with int8.",
)


class _Progress:
    """A tqdm bar on stderr, created at the first update (so early errors print cleanly)."""

    def __init__(self, total: int | None):
        self.total, self.bar = total, None

    def update(self, n: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                unit="rows",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
                mininterval=0.5,
            )
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(total: int | None, silent: bool):
    return None if silent else _Progress(total)


@click.command("score", context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-m",
    "--model",
    default="default",
    show_default=True,
    help="Bundle directory, or 'default' (the embedded model).",
)
@click.option(
    "-o",
    "--output",
    default=None,
    help="Output file, directory (one file per input), or - for stdout (CSV). Default: <stem>.scored.parquet beside each input.",
)
@click.option("--text-column", default="text", show_default=True)
@click.option("--id-column", default=None, help="Column always kept in the output (e.g. a row id).")
@click.option(
    "--keep-columns",
    default="all",
    show_default=True,
    help="all, none, or a comma-separated list of input columns to keep.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default=None,
    help="Output format (default: from the output extension, else parquet).",
)
@click.option("--delimiter", default=None, help="CSV delimiter (default ',' or tab for .tsv).")
@DEVICE
@PRECISION
@click.option(
    "--threads",
    type=int,
    default=None,
    help="CPU threads for ONNX Runtime (default: all cores; on CPU shared by two concurrent micro-batches).",
)
@click.option(
    "--max-tokens",
    type=int,
    default=None,
    help="Token budget per micro-batch (rows x longest row); default 4096 on CPU, 65536 on CUDA.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run (inputs, bundle and options must be unchanged).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output.")
@click.option("--limit", type=int, default=None, help="Score only the first N rows.")
@click.option(
    "--strict", is_flag=True, help="Stop at the first bad row instead of writing an error column."
)
@click.option(
    "--prefix",
    default="",
    help="Prefix for prediction columns, e.g. pred_ when the input has its own 'label'.",
)
@click.option(
    "--chunk-rows",
    type=int,
    default=20000,
    show_default=True,
    help="Rows per output part (the unit of --resume).",
)
@click.option("--silent", is_flag=True, help="No progress bar and no summary line.")
@click.option("--stats-json", default=None, help="Write the run summary as JSON here.")
def score_cmd(
    inputs,
    model,
    output,
    text_column,
    id_column,
    keep_columns,
    fmt,
    delimiter,
    device,
    precision,
    threads,
    max_tokens,
    resume,
    overwrite,
    limit,
    strict,
    prefix,
    chunk_rows,
    silent,
    stats_json,
):
    """Score review files: every input row comes back once, in order, with label, score and
    prob_<label> columns (and an error column for rows that could not be scored).

    INPUTS are files, directories or globs of Parquet, CSV/TSV (.gz too) or JSONL.
    """
    from sentiscore.infer.config import ScoreConfig
    from sentiscore.infer.files import score_files, total_rows
    from sentiscore.io.readers import discover_inputs

    with _stdout_capture(output, fmt) as (path, fmt):
        cfg = ScoreConfig(
            model=model,
            output=path,
            text_column=text_column,
            id_column=id_column,
            keep_columns=keep_columns,
            format=fmt,
            delimiter=delimiter,
            device=device,
            precision=precision,
            threads=threads,
            max_tokens=max_tokens,
            resume=resume,
            overwrite=overwrite,
            limit=limit,
            strict=strict,
            prefix=prefix,
            chunk_rows=chunk_rows,
            stats_json=stats_json,
        )
        bar = _progress_bar(total_rows(discover_inputs(list(inputs), delimiter), limit), silent)
        try:
            stats = score_files(list(inputs), cfg, progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
    if not silent:
        where = "stdout" if output == "-" else ", ".join(stats["outputs"])
        click.echo(_score_summary(stats, where), err=True)


@contextlib.contextmanager
def _stdout_capture(output: str, fmt: str | None):
    """Yield (path, format) to score into. For ``--output -`` that is a temporary file (CSV
    unless --format), streamed to stdout after a successful run and deleted in any case."""
    if output != "-":
        yield output, fmt
        return
    tmp = tempfile.mkdtemp(prefix="sentiscore-")
    fmt = fmt or "csv"
    path = os.path.join(tmp, f"stdout.{fmt}")
    try:
        yield path, fmt
        with open(path, "rb") as f:
            shutil.copyfileobj(f, click.get_binary_stream("stdout"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _score_summary(stats: dict, destination: str) -> str:
    """The one line ``score`` prints at the end."""
    return (
        f"scored {stats['rows']} rows ({stats['errors']} errors) in {stats['seconds']:.1f}s, "
        f"{stats['rows_per_s'] or 0:.1f} rows/s, padding efficiency "
        f"{stats['padding_efficiency']:.2f}, {stats['precision']} on {stats['device']} "
        f"-> {destination}"
    )


@click.command("predict", context_settings=CONTEXT)
@click.argument("texts", nargs=-1)
@click.option(
    "-m", "--model", default="default", show_default=True, help="Bundle directory or 'default'."
)
@DEVICE
@PRECISION
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line instead of a table."
)
def predict_cmd(texts, model, device, precision, as_json):
    """Predict the sentiment of TEXTS (or of each stdin line when none are given)."""
    from sentiscore.errors import InputDataError
    from sentiscore.infer.scorer import Scorer

    if not texts:
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    if not texts:
        raise InputDataError(
            "Text to score, as arguments or as stdin lines",
            "no TEXT arguments and an empty stdin",
            'pass a text (sentiscore predict "Great film!") or pipe lines in',
        )
    scorer = Scorer.load(model, device=device, precision=precision)
    results = scorer.predict(list(texts))
    if as_json:
        for text, r in zip(texts, results):
            click.echo(json.dumps({"text": text, **r}, ensure_ascii=False))
        return
    width = max([len(lab) for lab in scorer.labels] + [5])
    click.echo(f"{'label':<{width}}  {'score':>6}  text")
    for text, r in zip(texts, results):
        shown = text if len(text) <= 70 else text[:67] + "..."
        if r.get("error"):
            click.echo(f"{'-':<{width}}  {'-':>6}  {shown}  [error: {r['error']}]")
        else:
            click.echo(f"{r['label']:<{width}}  {r['score']:6.3f}  {shown}")


@click.command("evaluate", context_settings=CONTEXT)
@click.argument("bundle")
@click.argument("data", nargs=-1, required=True)
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "-o",
    "--output",
    default=None,
    help="Directory for metrics.json and plots (default: <bundle>/eval-<data stem>).",
)
@DEVICE
@PRECISION
@click.option("--limit", type=int, default=None, help="Evaluate only the first N rows.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots (no matplotlib needed).")
@click.option("--max-tokens", type=int, default=None, help="Token budget per micro-batch.")
@click.option(
    "--chunk-rows", type=int, default=4096, show_default=True, help="Rows read per batch."
)
def evaluate_cmd(
    bundle,
    data,
    text_column,
    label_column,
    output,
    device,
    precision,
    limit,
    no_plots,
    max_tokens,
    chunk_rows,
):
    """Evaluate BUNDLE ('default' or a directory) on labeled DATA: accuracy, P/R/F1, ROC AUC,
    confusion matrix, ECE; writes metrics.json and plots."""
    from sentiscore.infer.evaluate import EvaluateConfig, evaluate_bundle

    cfg = EvaluateConfig(
        bundle=bundle,
        data=list(data),
        text_column=text_column,
        label_column=label_column,
        output=output,
        device=device,
        precision=precision,
        limit=limit,
        plots=not no_plots,
        max_tokens=max_tokens,
        chunk_rows=chunk_rows,
    )
    rep = evaluate_bundle(cfg)
    m = rep["metrics"]
    auc = f"{m['roc_auc']:.4f}" if m["roc_auc"] is not None else "n/a"
    click.echo(
        f"accuracy {m['accuracy']:.4f}  macro-F1 {m['f1_macro']:.4f}  ROC AUC {auc}  ECE {m['ece']:.4f}  n={m['n']}  ({rep['precision']} on {rep['device']}) -> {rep['output']}"
    )
