"""``sentiscore export`` and ``sentiscore upgrade``: options -> ``ExportConfig`` -> the export
stage; heavy imports stay inside the commands."""

from __future__ import annotations

import os

import click

from sentiscore.choices import (
    INT8_ACTIVATIONS,
    INT8_GELUS,
    OPTIMIZE_LEVELS,
    TRUNCATIONS,
    WEIGHT_TYPES,
)
from sentiscore.cli.logs import third_party_to
from sentiscore.cli.options import CONTEXT, TEXT_COLUMN, csv_callback
from sentiscore.export.config import ExportConfig


@click.command("export", context_settings=CONTEXT)
@click.argument("model")
@click.option("-o", "--output", "out_dir", required=True, help="Bundle directory to write.")
@click.option(
    "--precision",
    default=",".join(ExportConfig.precision),
    show_default=True,
    callback=csv_callback,
    help="Comma-separated variants: fp32, int8 (dynamic, per-row scales), int8-static "
    "(calibrated QDQ, accuracy-controlled), fp16 (CUDA).",
)
@click.option("--opset", type=int, default=17, show_default=True)
@click.option(
    "--optimize",
    type=click.Choice(OPTIMIZE_LEVELS),
    default="O2",
    show_default=True,
    help="O1: ORT basic only; O2: transformer fusions; O3: O2 + GELU approximation.",
)
@click.option(
    "--cls-tail/--no-cls-tail",
    default=True,
    show_default=True,
    help="Run the layers after the last attention on the [CLS] position only (same logits, faster).",
)
@click.option(
    "--split-skip-layernorm/--no-split-skip-layernorm",
    default=True,
    show_default=True,
    help="CPU variants: SkipLayerNormalization as Add + LayerNormalization (same logits, faster on CPU).",
)
@click.option(
    "--max-length",
    type=int,
    default=None,
    help="Default: from the training run, else the model's limit (<= 512).",
)
@click.option(
    "--truncation",
    type=click.Choice(TRUNCATIONS),
    default=None,
    help="Default: from the training run, else head.",
)
@click.option(
    "--validate-with",
    default=None,
    help="Parquet/CSV/JSONL for the parity check (default: a built-in sample).",
)
@TEXT_COLUMN
@click.option(
    "--label-column",
    default=None,
    help="Labels in --validate-with enable accuracy gates and --calibrate.",
)
@click.option("--samples", type=int, default=1000, show_default=True, help="Validation rows used.")
@click.option(
    "--calibration-rows",
    type=int,
    default=300,
    show_default=True,
    help="Rows that int8-static's activation ranges are measured on (of --calibration-data, "
    "else of the validation rows).",
)
@click.option(
    "--calibration-data",
    default=None,
    help="Parquet/CSV/JSONL of texts to calibrate int8-static on (default: the validation rows); "
    "include every kind of text you score, short phrases too.",
)
@click.option(
    "--static-keep",
    multiple=True,
    help="Node-name patterns (fnmatch, names of the exported graph before fusion, e.g. "
    "'/bert/encoder/layer.0/*') whose MatMuls int8-static keeps in fp32.",
)
@click.option(
    "--calibrate", is_flag=True, help="Fit a softmax temperature on the labeled validation data."
)
@click.option(
    "--per-channel/--no-per-channel",
    default=True,
    show_default=True,
    help="Per-channel int8 weights.",
)
@click.option("--weight-type", type=click.Choice(WEIGHT_TYPES), default="qint8", show_default=True)
@click.option(
    "--exclude-nodes", multiple=True, help="Node-name patterns (fnmatch) kept fp32 in int8."
)
@click.option(
    "--int8-gelu",
    type=click.Choice(INT8_GELUS),
    default="tanh",
    show_default=True,
    help="GELU in the int8 variant: tanh approximation (faster) or exact erf.",
)
@click.option(
    "--int8-activations",
    type=click.Choice(INT8_ACTIVATIONS),
    default="per-row",
    show_default=True,
    help="per-row: one activation scale per token, so a row scores the same in any batch. "
    "per-tensor: ONNX Runtime's stock dynamic int8, ~15 % faster, but a row's scores depend on "
    "the rows batched with it; --precision auto never uses it (opt-in with --precision int8).",
)
@click.option(
    "--max-drop",
    type=float,
    default=0.5,
    show_default=True,
    help="Max int8 / int8-static accuracy drop in points (labels given); int8-static keeps its "
    "most sensitive layers in fp32 until it is within it.",
)
@click.option("--force", is_flag=True, help="Keep variants that fail the gate, marked failed.")
def export_cmd(model, out_dir, **options):
    """Export MODEL (HF directory, hub id, or a 'sentiscore train' run directory) to an ONNX
    bundle, gated by a parity report. Third-party warnings go to OUTPUT/export.log unless -v."""
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    cfg = ExportConfig(**options)
    log_path = os.path.join(out_dir, "export.log")
    with third_party_to(log_path) as quiet:
        report = export_model(model, out_dir, cfg)
    click.echo(report.table())
    if quiet:
        click.echo(f"(messages from the converters and ONNX Runtime: {log_path}; -v shows them)")
    if report.fatal and not cfg.force:
        from sentiscore.errors import ParityError

        raise ParityError(
            "Every variant to pass the parity gate",
            f"failed: {', '.join(report.fatal)}",
            report.advice(),
        )


@click.command("upgrade", context_settings=CONTEXT)
@click.argument("bundle")
@click.option("-o", "--output", "out_dir", required=True, help="New bundle directory to write.")
@click.option("--version", "version", default=None, help="Version to record in the new manifest.")
def upgrade_cmd(bundle, out_dir, version):
    """Rewrite BUNDLE's stock dynamic int8 variant (one activation scale per micro-batch, so
    scores depend on the batch) into per-row int8 (same weights; a row scores the same in any
    batch), checked on a built-in sample. Needs no source model; BUNDLE is left as it is."""
    from sentiscore.errors import require

    require("onnx", "export", "sentiscore upgrade")
    from sentiscore.export.upgrade import upgrade_bundle

    check = upgrade_bundle(bundle, out_dir, version)
    click.echo(
        f"wrote {out_dir}: per-row int8; on {check['rows']} sample rows, max |dp| alone vs batched "
        f"{check['invariance']:.1e}, label agreement with the old variant {check['agreement_with_old']:.2%}"
    )
