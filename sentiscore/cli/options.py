"""Options shared by the subcommands, each defined once: the same flag has the same name,
default and meaning wherever it appears. Each option's destination is the field name of the
stage's config dataclass, so that a command builds its config with ``Config(**options)``."""

from __future__ import annotations

import click

from sentiscore.choices import DEVICES, SCORE_PRECISIONS, TEXT_NAMES

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

MODEL = click.option(
    "-m",
    "--model",
    default="default",
    show_default=True,
    help="Bundle directory, a bundle URI (s3://..., fetched once per machine), or 'default'.",
)
TEXT_COLUMN = click.option(
    "--text-column",
    default=None,
    help=f"Column holding the text (default: the first of {', '.join(TEXT_NAMES[:6])}, ...; "
    "the choice is logged).",
)
DEVICE = click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="auto",
    show_default=True,
    help="auto uses CUDA when onnxruntime-gpu offers it; cuda never falls back silently.",
)
PRECISION = click.option(
    "--precision",
    type=click.Choice(SCORE_PRECISIONS),
    default="auto",
    show_default=True,
    help="Bundle variant. auto = the fastest row-invariant variant that passed export's gate, "
    "measured once on this CPU (int8-static, int8-static-bf16, per-row int8, bf16 or fp32; "
    "OpenVINO when installed and faster); fp16 on CUDA. int8-static-bf16: the int8-static "
    "graph with its non-integer ops at bf16 (OpenVINO, CPUs with native bf16). A per-tensor (stock dynamic) int8 variant gives "
    "batch-dependent scores and is used only when asked for with int8.",
)
NO_VERIFY = click.option(
    "--no-verify",
    "verify",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Use the bundle even when its files are not all listed with checksums, or differ "
    "from them (a bundle you edited by hand; never one you downloaded).",
)
THREADS = click.option(
    "--threads",
    type=int,
    default=None,
    help="CPU threads (default: all cores; shared by two concurrent micro-batches).",
)
MAX_TOKENS = click.option(
    "--max-tokens",
    type=int,
    default=None,
    help="Token budget per micro-batch (rows x longest row); default 4096 on CPU, 65536 on CUDA.",
)
MAX_LENGTH = click.option(
    "--max-length",
    type=int,
    default=None,
    help="Cut texts to N tokens, below the bundle's own limit: faster on long texts, less "
    "accurate (docs/scoring.md).",
)
LIMIT = click.option("--limit", type=int, default=None, help="Use only the first N rows.")
STRIP_HTML = click.option(
    "--strip-html",
    is_flag=True,
    help="Remove HTML tags (IMDB's <br />) and decode entities (&amp;) before scoring.",
)


def scoring(f):
    """The options of every command that runs a bundle: --device, --precision, --no-verify."""
    return DEVICE(PRECISION(NO_VERIFY(f)))


def csv_option(value: str | None) -> tuple:
    """A comma-separated option value as a tuple of its non-empty items."""
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def csv_callback(ctx, param, value) -> tuple:
    """``csv_option`` as a click callback."""
    return csv_option(value)
