"""ScoreConfig: every option of ``sentiscore score``, one documented dataclass, validated on
construction. The CLI maps its options onto it one to one; ``score_files`` takes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sentiscore.choices import (
    DEVICES,
    ENGINES,
    MAX_LENGTH_RANGE,
    MIN_MAX_TOKENS,
    OUTPUT_FORMATS,
    SCORE_PRECISIONS,
    listed,
)
from sentiscore.errors import ConfigError
from sentiscore.infer.rows import check_min_score


def check_run_options(
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    max_tokens: int | None = None,
    max_length: int | None = None,
    limit: int | None = None,
) -> None:
    """The options of every command that runs a bundle (score, evaluate, bench), checked
    alike: ConfigError naming the flag. A max_length above the bundle's own is the scorer's
    check, since only the bundle knows its limit."""
    if device not in DEVICES:
        raise ConfigError(f"--device {listed(DEVICES)}", repr(device), "pick one of those")
    if precision not in SCORE_PRECISIONS:
        raise ConfigError(
            f"--precision {listed(SCORE_PRECISIONS)}", repr(precision), "pick one of those"
        )
    for flag, value in (("--threads", threads), ("--limit", limit)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} >= 1", str(value), f"drop {flag} or give a positive number")
    if max_tokens is not None and max_tokens < MIN_MAX_TOKENS:
        raise ConfigError(
            f"--max-tokens >= {MIN_MAX_TOKENS}", str(max_tokens), "drop it (default 4096 on CPU)"
        )
    if max_length is not None and max_length < MAX_LENGTH_RANGE[0]:
        raise ConfigError(
            f"--max-length >= {MAX_LENGTH_RANGE[0]}", str(max_length), "drop it or raise it"
        )


@dataclass
class ScoreConfig:
    """Options for scoring files.

    model: bundle directory, a bundle URI (s3://..., gs://..., az://...; fetched once per
        machine into a local cache), or "default" for the embedded model.
    output: output file, or a directory (existing, or ending in '/') for one file per input;
        None writes ``<input stem>.scored.<fmt>`` beside each input.
    text_column: column holding the text; None detects it (text, sentence, review, content,
        ...: ``choices.TEXT_NAMES``) and logs the choice. id_column: optional column (a row
        id, say) that must exist and is always kept. keep_columns: "all", "none" or "a,b".
    format: output format (parquet/csv/tsv/jsonl); None follows the output's extension.
    delimiter: CSV delimiter (default: ',' or tab for .tsv).
    device: auto/cpu/cuda. precision: auto or a variant (``choices.SCORE_PRECISIONS``).
    threads: CPU threads for ONNX Runtime (default: all cores), shared by two concurrent
        micro-batch streams on CPU.
    max_tokens: token budget per micro-batch (rows x longest row); None = 4096 on CPU,
        65536 on CUDA.
    resume / overwrite: what to do with existing output (exclusive).
    limit: score only the first N rows of all inputs together.
    strict: stop at the first bad row instead of writing an error column.
    prefix: prepended to prediction column names; None: none, or "pred_" when an input column
        already has a prediction column's name (a labeled file's own 'label').
    chunk_rows: at most this many rows per output part (the unit of resume); parts are also
        cut after about 30 s of scoring, so a crash loses little work.
    stats_json: write the summary here.
    max_length: cut texts to this many tokens, below the bundle's own limit (faster on long
        texts, less accurate); None keeps the bundle's.
    max_error_rate: fail (exit 1, output still written) when more than this fraction of the
        rows could not be scored; None never fails on bad rows.
    min_score: rows whose top probability is below it get a null label and label_id (abstain:
        "not sure", or neutral) and keep their score and probabilities; None labels every row.
    source_column / row_number_column: names of added columns holding each row's input file
        (as named on the command line, or its URI) and its 0-based row number in that file,
        so that outputs join back to inputs after any engine; None adds none.
    strip_html: remove HTML tags (each a space) and decode entities before scoring (off by
        default: measured on IMDB in docs/scoring.md).
    verify: check the bundle's files against the checksums in its manifest (--no-verify off).
    engine: local (this process), ray or spark (a cluster; output is a directory of Parquet
        parts). workers: Ray actors or local Spark tasks at once (default: the whole
        cluster). threads_per_worker: ONNX Runtime threads and CPUs per worker (Ray actor,
        Spark task: spark.task.cpus; default 1). gpus_per_worker: GPUs per Ray actor or Spark
        task (spark.task.resource.gpu.amount), fractions share a GPU (implies CUDA).
    """

    model: str = "default"
    output: str | None = None
    text_column: str | None = None
    id_column: str | None = None
    keep_columns: str = "all"
    format: str | None = None
    delimiter: str | None = None
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    max_tokens: int | None = None
    resume: bool = False
    overwrite: bool = False
    limit: int | None = None
    strict: bool = False
    prefix: str | None = None
    chunk_rows: int = 20_000
    stats_json: str | None = None
    max_length: int | None = None
    max_error_rate: float | None = None
    min_score: float | None = None
    source_column: str | None = None
    row_number_column: str | None = None
    strip_html: bool = False
    verify: bool = True
    engine: str = "local"
    workers: int | None = None
    threads_per_worker: int | None = None
    gpus_per_worker: float | None = None

    def __post_init__(self):
        if self.resume and self.overwrite:
            raise ConfigError("At most one of --resume and --overwrite", "both", "pick one")
        if self.format not in (None, *OUTPUT_FORMATS):
            raise ConfigError(
                f"--format one of {', '.join(OUTPUT_FORMATS)}", repr(self.format), "pick one"
            )
        check_run_options(
            self.device,
            self.precision,
            self.threads,
            self.max_tokens,
            self.max_length,
            self.limit,
        )
        if self.engine not in ENGINES:
            raise ConfigError(
                f"--engine one of {', '.join(ENGINES)}", repr(self.engine), "pick one"
            )
        if self.gpus_per_worker is not None and not self.gpus_per_worker > 0:
            raise ConfigError("--gpus-per-worker > 0", str(self.gpus_per_worker), "e.g. 0.5 or 1")
        for name in ("workers", "threads_per_worker"):
            value = getattr(self, name)
            if value is not None and value < 1:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(
                    f"{flag} >= 1", str(value), f"drop {flag} or give a positive number"
                )
        if self.chunk_rows < 1:
            raise ConfigError("--chunk-rows >= 1", str(self.chunk_rows), "drop it (default 20000)")
        check_min_score(self.min_score)
        named = [n for n in (self.source_column, self.row_number_column) if n is not None]
        if any(not n.strip() for n in named) or len(set(named)) < len(named):
            raise ConfigError(
                "--source-column and --row-number-column to be distinct, non-empty names",
                repr(named),
                "e.g. --source-column source_file --row-number-column source_row",
            )
        if self.max_error_rate is not None and not 0 <= self.max_error_rate <= 1:
            raise ConfigError(
                "--max-error-rate between 0 and 1", str(self.max_error_rate), "e.g. 0.01 for 1 %"
            )

    def as_dict(self) -> dict:
        return asdict(self)

    def result_affecting(self) -> dict:
        """The options that change output content: a resume must use the same ones."""
        keys = (
            "text_column",
            "id_column",
            "keep_columns",
            "precision",
            "limit",
            "prefix",
            "format",
            "max_length",
            "min_score",
            "source_column",
            "row_number_column",
            "strip_html",
        )
        return {k: getattr(self, k) for k in keys}
