"""``sentiscore evaluate``: options -> ``EvaluateConfig`` -> ``evaluate_bundle``."""

from __future__ import annotations

import click

from sentiscore.cli.options import CONTEXT, DEVICE, NO_VERIFY, PRECISION


@click.command("evaluate", context_settings=CONTEXT)
@click.argument("bundle")
@click.argument("data", nargs=-1, required=True)
@click.option(
    "--text-column", default=None, help="Text column (default: text, review, sentence, ...)."
)
@click.option("--label-column", default=None, help="Gold label column (default: label, ...).")
@click.option(
    "--label-map",
    default=None,
    metavar="GOLD=LABEL,...",
    help="Map gold values to the bundle's labels (names or ids), e.g. neg=negative,pos=positive; "
    "integer ranges and drop for star ratings: 1-2=negative,3=drop,4-5=positive. "
    "Without it, ids, label names and unique prefixes ('pos') are understood.",
)
@click.option(
    "-o",
    "--output",
    default=None,
    help="Directory for metrics.json and plots (default: BUNDLE/eval-<data stem>, or "
    "./eval-<data stem> for 'default').",
)
@DEVICE
@PRECISION
@NO_VERIFY
@click.option("--limit", type=int, default=None, help="Evaluate only the first N rows.")
@click.option(
    "--no-plots",
    is_flag=True,
    help="Skip the PNG plots. Without matplotlib they are skipped anyway; metrics.json is "
    "always written.",
)
@click.option("--max-tokens", type=int, default=None, help="Token budget per micro-batch.")
@click.option(
    "--chunk-rows", type=int, default=4096, show_default=True, help="Rows read per batch."
)
@click.option(
    "--max-length",
    type=int,
    default=None,
    help="Lower the bundle's token limit per review (faster on long reviews; see README).",
)
@click.option(
    "--strip-html",
    is_flag=True,
    help="Remove HTML tags and decode entities before scoring, as score --strip-html.",
)
@click.option(
    "--group-column",
    default=None,
    help="Also report metrics per value of this column (a domain, a product category).",
)
def evaluate_cmd(
    bundle,
    data,
    text_column,
    label_column,
    label_map,
    output,
    device,
    precision,
    no_verify,
    limit,
    no_plots,
    max_tokens,
    chunk_rows,
    max_length,
    strip_html,
    group_column,
):
    """Evaluate BUNDLE ('default' or a directory) on labeled DATA: accuracy, P/R/F1, ROC AUC,
    confusion matrix, ECE; writes metrics.json and plots."""
    from sentiscore.infer.evaluate import EvaluateConfig, evaluate_bundle

    cfg = EvaluateConfig(
        bundle=bundle,
        data=list(data),
        text_column=text_column,
        label_column=label_column,
        label_map=label_map,
        output=output,
        device=device,
        precision=precision,
        limit=limit,
        plots=not no_plots,
        max_tokens=max_tokens,
        chunk_rows=chunk_rows,
        max_length=max_length,
        strip_html=strip_html,
        group_column=group_column,
        verify=not no_verify,
    )
    rep = evaluate_bundle(cfg)
    m = rep["metrics"]
    auc = f"{m['roc_auc']:.4f}" if m["roc_auc"] is not None else "n/a"
    for name, g in rep.get("groups", {}).items():
        click.echo(f"  {name}: accuracy {g['accuracy']:.4f}  ECE {g['ece']:.4f}  n={g['n']}")
    click.echo(
        f"accuracy {m['accuracy']:.4f}  macro-F1 {m['f1_macro']:.4f}  ROC AUC {auc}  ECE {m['ece']:.4f}  n={m['n']}  ({rep['precision']} on {rep['device']}) -> {rep['output']}"
    )
