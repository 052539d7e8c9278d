"""``sentiscore evaluate``: options -> ``EvaluateConfig`` -> ``evaluate_bundle``."""

from __future__ import annotations

import click

from sentiscore.cli.options import CONTEXT, DEVICE, PRECISION


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
