"""Options and helpers shared by the subcommands: the click context, --device, --precision,
--no-verify."""

from __future__ import annotations

import click

from sentiscore.choices import DEVICES, SCORE_PRECISIONS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
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
    help="Bundle variant. auto = the fastest row-invariant one: on CPU bf16 (AMX CPUs with "
    "sentiscore[openvino] and an fp32 variant), else per-row int8, else fp32; fp16 on CUDA. bf16 "
    "runs the fp32 graph in OpenVINO. A per-tensor (stock dynamic) int8 variant gives "
    "batch-dependent scores and is used only when asked for with int8.",
)

NO_VERIFY = click.option(
    "--no-verify",
    "no_verify",
    is_flag=True,
    help="Use the bundle even when its files are not all listed with checksums, or differ "
    "from them (a bundle you edited by hand; never one you downloaded).",
)


def csv_option(value: str | None) -> tuple:
    """A comma-separated option value as a tuple of its non-empty items."""
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()
