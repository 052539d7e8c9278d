"""``sentiscore train``: options -> ``TrainConfig`` -> ``pipeline.train_and_export``."""

from __future__ import annotations

import click

from sentiscore.choices import HOLDOUTS, POOLINGS, SCHEDULERS, TRAIN_PRECISIONS, TRUNCATIONS
from sentiscore.cli.options import CONTEXT
from sentiscore.trainer.config import METRICS


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
@click.option("-o", "--output", required=True, help="Run directory.")
@click.option("--eval-data", multiple=True, help="Separate evaluation data (same forms as --data).")
@click.option("--text-column", default=None)
@click.option("--label-column", default=None)
@click.option("--train-split", default="train", show_default=True)
@click.option("--eval-split", default=None)
@click.option("--validation-fraction", type=float, default=0.1, show_default=True)
@click.option(
    "--holdout",
    type=click.Choice(HOLDOUTS),
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
    type=click.Choice(SCHEDULERS),
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
@click.option("--truncation", type=click.Choice(TRUNCATIONS), default="head", show_default=True)
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
    "predictions to the loss (0 = off; 1.0 is a common choice; ~1.6x time per step).",
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
@click.option(
    "--metric-for-best",
    type=click.Choice(list(METRICS)),
    default="accuracy",
    show_default=True,
    help="Keep the checkpoint (and search trial) best by this: higher accuracy/f1_macro, lower ece/loss.",
)
@click.option("--gradient-checkpointing", is_flag=True)
@click.option(
    "--precision",
    type=click.Choice(TRAIN_PRECISIONS),
    default="auto",
    show_default=True,
    help="auto: bf16 on a GPU that has it (else fp16), bf16 on a CPU with AVX-512 BF16 or AMX "
    "(autocast over fp32 weights), else fp32.",
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
    "--logging-steps",
    type=int,
    default=50,
    show_default=True,
    help="Log the training loss every N steps (the loss curve in plots/; lower it for short runs).",
)
@click.option(
    "--keep-checkpoints",
    is_flag=True,
    help="Keep checkpoints/ after a finished run (by default only model/ stays; an "
    "interrupted run keeps them for --resume).",
)
@click.option(
    "--export",
    is_flag=True,
    help="Also write an int8 bundle with a calibrated temperature to RUN_DIR/bundle.",
)
def train_cmd(**options):
    """Fine-tune an encoder for sentiment; writes model/, metrics.json, plots/, predictions.parquet,
    train_config.json and a model card (README.md) to --output."""
    from sentiscore.pipeline import train_and_export
    from sentiscore.trainer.config import TrainConfig

    options["data"] = list(options["data"])
    options["eval_data"] = list(options["eval_data"]) or None
    cfg = TrainConfig(**options, progress=True)
    click.echo(train_and_export(cfg).summary())
