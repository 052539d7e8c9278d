"""The model-building subcommands behind ``cli.py``: ``train`` and ``export``. Each maps its
options onto the stage's config dataclass and calls the library; heavy imports stay inside.
"""

from __future__ import annotations

import click

from sentiscore.trainer.pooling import POOLINGS  # light: no torch/transformers at import

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _csv(value: str | None) -> tuple:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


@click.command("export", context_settings=CONTEXT)
@click.argument("model")
@click.option("-o", "--output", "out_dir", required=True, help="Bundle directory to write.")
@click.option(
    "--precision",
    default="fp32,int8",
    show_default=True,
    help="Comma-separated variants: fp32, int8, fp16.",
)
@click.option("--opset", type=int, default=17, show_default=True)
@click.option(
    "--optimize",
    type=click.Choice(["O1", "O2", "O3"]),
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
    type=click.Choice(["head", "head+tail"]),
    default=None,
    help="Default: from the training run, else head.",
)
@click.option(
    "--validate-with",
    default=None,
    help="Parquet/CSV/JSONL for the parity check (default: a built-in sample).",
)
@click.option("--text-column", default="text", show_default=True)
@click.option(
    "--label-column",
    default=None,
    help="Labels in --validate-with enable accuracy gates and --calibrate.",
)
@click.option("--samples", type=int, default=1000, show_default=True, help="Validation rows used.")
@click.option(
    "--calibrate", is_flag=True, help="Fit a softmax temperature on the labeled validation data."
)
@click.option(
    "--per-channel/--no-per-channel",
    default=True,
    show_default=True,
    help="Per-channel int8 weights.",
)
@click.option(
    "--weight-type", type=click.Choice(["qint8", "quint8"]), default="qint8", show_default=True
)
@click.option(
    "--exclude-nodes", multiple=True, help="Node-name patterns (fnmatch) kept fp32 in int8."
)
@click.option(
    "--int8-gelu",
    type=click.Choice(["tanh", "erf"]),
    default="tanh",
    show_default=True,
    help="GELU in the int8 variant: tanh approximation (faster) or exact erf.",
)
@click.option(
    "--int8-activations",
    type=click.Choice(["per-row", "per-tensor"]),
    default="per-row",
    show_default=True,
    help="per-row: one activation scale per token, so a row scores the same in any batch. "
    "per-tensor: ONNX Runtime's stock dynamic int8, ~15 %% faster, but a row's scores depend on "
    "the rows batched with it; --precision auto never uses it (opt-in with --precision int8).",
)
@click.option(
    "--max-drop",
    type=float,
    default=0.5,
    show_default=True,
    help="Max int8 accuracy drop in points (labels given).",
)
@click.option("--force", is_flag=True, help="Keep variants that fail the gate, marked failed.")
def export_cmd(
    model,
    out_dir,
    precision,
    opset,
    optimize,
    cls_tail,
    split_skip_layernorm,
    max_length,
    truncation,
    validate_with,
    text_column,
    label_column,
    samples,
    calibrate,
    per_channel,
    weight_type,
    exclude_nodes,
    int8_gelu,
    int8_activations,
    max_drop,
    force,
):
    """Export MODEL (HF directory or hub id) to an ONNX bundle, gated by a parity report."""
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    cfg = ExportConfig(
        precision=_csv(precision),
        opset=opset,
        optimize=optimize,
        cls_tail=cls_tail,
        split_skip_layernorm=split_skip_layernorm,
        max_length=max_length,
        truncation=truncation,
        validate_with=validate_with,
        text_column=text_column,
        label_column=label_column,
        samples=samples,
        calibrate=calibrate,
        per_channel=per_channel,
        weight_type=weight_type,
        exclude_nodes=tuple(exclude_nodes),
        int8_gelu=int8_gelu,
        int8_activations=int8_activations,
        max_drop=max_drop,
        force=force,
    )
    report = export_model(model, out_dir, cfg)
    click.echo(report.table())
    if report.failed and not force:
        from sentiscore.errors import ParityError

        raise ParityError(
            "Every variant to pass the parity gate",
            f"failed: {', '.join(report.failed)}",
            report.advice(),
        )


@click.command("train", context_settings=CONTEXT)
@click.option(
    "--model",
    required=True,
    help="Hub id or local directory of an encoder (bert-base-uncased, distilbert-base-uncased, ...).",
)
@click.option(
    "--data",
    multiple=True,
    required=True,
    help="Hub dataset (imdb, sst2, amazon_polarity, ...) or local files/dirs/globs; repeatable.",
)
@click.option("--output", required=True, help="Run directory.")
@click.option("--eval-data", multiple=True, help="Separate evaluation data (same forms as --data).")
@click.option("--text-column", default=None)
@click.option("--label-column", default=None)
@click.option("--train-split", default="train", show_default=True)
@click.option("--eval-split", default=None)
@click.option("--validation-fraction", type=float, default=0.1, show_default=True)
@click.option(
    "--holdout",
    type=click.Choice(["rows", "sentences"]),
    default="rows",
    show_default=True,
    help="How the validation split is carved: random rows, or whole sentences with their "
    "phrases dropped from training (phrase-level data such as SST-2).",
)
@click.option("--max-train-samples", type=int, default=None)
@click.option("--max-eval-samples", type=int, default=None)
@click.option("--lr", "learning_rate", type=float, default=2e-5, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--eval-batch-size", type=int, default=64, show_default=True)
@click.option("--epochs", type=float, default=3.0, show_default=True)
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option("--warmup-ratio", type=float, default=0.06, show_default=True)
@click.option(
    "--scheduler",
    type=click.Choice(["linear", "cosine", "constant"]),
    default="linear",
    show_default=True,
)
@click.option("--grad-accum", type=int, default=1, show_default=True)
@click.option(
    "--max-length",
    type=int,
    default=None,
    help="Default: p95 of training token lengths, capped by the model.",
)
@click.option(
    "--truncation", type=click.Choice(["head", "head+tail"]), default="head", show_default=True
)
@click.option("--label-smoothing", type=float, default=0.0, show_default=True)
@click.option(
    "--layer-decay",
    type=float,
    default=1.0,
    show_default=True,
    help="Layer-wise learning-rate decay: the head trains at --lr, each layer below at this "
    "factor times the one above (1.0 = off; 0.8 suits small encoders at a higher --lr).",
)
@click.option(
    "--rdrop",
    type=float,
    default=0.0,
    show_default=True,
    help="R-Drop: run each batch twice and add this times the KL divergence between the two "
    "predictions to the loss (0 = off; SST-2 runs used 1.0; ~1.6x time per step).",
)
@click.option(
    "--pooling",
    type=click.Choice(POOLINGS),
    default="auto",
    show_default=True,
    help="Classifier read-out: cls token, mean of token vectors (BERT-type models), or auto "
    "(what a sentiscore-trained checkpoint recorded, else cls).",
)
@click.option("--class-weights", is_flag=True, help="Weight the loss by inverse class frequency.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--evals-per-epoch",
    type=int,
    default=1,
    show_default=True,
    help="Score the validation split and save a checkpoint this many times per epoch; the "
    "best one is kept.",
)
@click.option(
    "--early-stopping",
    "early_stopping_patience",
    type=int,
    default=None,
    help="Patience in epochs.",
)
@click.option("--metric-for-best", default="accuracy", show_default=True)
@click.option("--gradient-checkpointing", is_flag=True)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--resume", is_flag=True, help="Continue from the last checkpoint in the run directory."
)
@click.option(
    "--search",
    "search_trials",
    type=int,
    default=0,
    help="Run N random-search trials over lr, batch and epochs.",
)
@click.option(
    "--export",
    is_flag=True,
    help="Also write an int8 bundle with a calibrated temperature to RUN_DIR/bundle.",
)
def train_cmd(**options):
    """Fine-tune an encoder for sentiment; writes model/, metrics.json, plots/, predictions.parquet,
    train_config.json and a model card (README.md) to --output."""
    from sentiscore.trainer.config import TrainConfig
    from sentiscore.trainer.run import train

    options["data"] = list(options["data"])
    options["eval_data"] = list(options["eval_data"]) or None
    cfg = TrainConfig(**options, progress=True)
    result = train(cfg)
    click.echo(
        result["summary"] + (f"; bundle in {result['bundle']}" if result.get("bundle") else "")
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
