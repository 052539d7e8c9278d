"""``sentiscore evaluate``: options -> ``EvaluateConfig`` -> ``evaluate_bundle``."""

from __future__ import annotations

import os

import click

from sentiscore.cli.options import (
    CONTEXT,
    LIMIT,
    MAX_LENGTH,
    MAX_TOKENS,
    STRIP_HTML,
    TEXT_COLUMN,
    scoring,
)


@click.command("evaluate", context_settings=CONTEXT)
@click.argument("args", nargs=-1, required=True, metavar="[BUNDLE] DATA...")
@click.option(
    "-m",
    "--model",
    default=None,
    help="Bundle directory, a bundle URI, or 'default' (as in score). Without it, a first "
    "argument that is 'default' or a bundle names the bundle; else the default model runs.",
)
@TEXT_COLUMN
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
@scoring
@LIMIT
@click.option(
    "--no-plots",
    "plots",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Skip the PNG plots. Without matplotlib they are skipped anyway; metrics.json is "
    "always written.",
)
@MAX_TOKENS
@click.option(
    "--read-rows",
    type=int,
    default=4096,
    show_default=True,
    help="Rows read and scored at a time (memory); metrics do not depend on it.",
)
@MAX_LENGTH
@STRIP_HTML
@click.option(
    "--group-column",
    default=None,
    help="Also report metrics per value of this column (a domain, a product category).",
)
@click.option(
    "--recalibrate",
    default=None,
    metavar="OUT",
    help="Also fit a calibration on these rows (a softmax temperature per band of token "
    "length, or one) and write the bundle with it to the new directory OUT.",
)
@click.option(
    "--bundle-version",
    default=None,
    help="Version of the --recalibrate bundle (default: the bundle's, plus '+recalibrated').",
)
def evaluate_cmd(args, model, **options):
    """Evaluate a bundle ('default', a directory or a URI; given with -m, or as the first
    argument) on labeled DATA: accuracy, P/R/F1, ROC AUC, confusion matrix, ECE; writes
    metrics.json and plots."""
    from sentiscore.infer.evaluate import EvaluateConfig, evaluate_bundle

    bundle, data = _bundle_and_data(args, model)
    cfg = EvaluateConfig(bundle=bundle, data=data, **options)
    rep = evaluate_bundle(cfg)
    m = rep["metrics"]
    auc = f"{m['roc_auc']:.4f}" if m["roc_auc"] is not None else "n/a"
    for name, g in rep.get("groups", {}).items():
        click.echo(f"  {name}: accuracy {g['accuracy']:.4f}  ECE {g['ece']:.4f}  n={g['n']}")
    if "recalibrated" in rep:
        _echo_recalibrated(rep["recalibrated"])
    click.echo(
        f"accuracy {m['accuracy']:.4f}  macro-F1 {m['f1_macro']:.4f}  ROC AUC {auc}  ECE {m['ece']:.4f}  n={m['n']}  ({rep['precision']} on {rep['device']}) -> {rep['output']}"
    )


def _echo_recalibrated(rec: dict) -> None:
    def line(name, g):
        b, a = g["before"], g["after"]
        return (
            f"  {name}: ECE {b['ece']:.4f} -> {a['ece']:.4f}  (a calibrated model would show "
            f"~{a['ece_floor']:.3f} on {a['rows']} rows)"
        )

    for name, g in rec.get("groups", {}).items():
        click.echo(line(name, g))
    click.echo(line("all", rec["overall"]))
    click.echo(
        f"recalibrated: {rec['before']} -> {rec['after']}; bundle written to {rec['bundle']}"
    )


def _bundle_and_data(args: tuple, model: str | None) -> tuple[str, list[str]]:
    """``-m BUNDLE DATA...``; ``BUNDLE DATA...`` (the older form: a first argument that is
    'default', a bundle directory or a bundle URI); else every argument is DATA and the
    default model runs, as in ``score``."""
    if model is not None:
        return model, list(args)
    if _is_bundle(args[0]):
        if len(args) == 1:
            raise click.UsageError(f"Missing DATA: labeled files to evaluate '{args[0]}' on")
        return args[0], list(args[1:])
    return "default", list(args)


def _is_bundle(arg: str) -> bool:
    """'default', a local bundle directory, or a URI that names no data file or glob."""
    from sentiscore.choices import INPUT_FORMATS
    from sentiscore.infer.manifest import MANIFEST
    from sentiscore.io.uris import is_uri

    if arg == "default" or os.path.isfile(os.path.join(arg, MANIFEST)):
        return True
    data_like = any(f".{ext}" in arg.lower() for ext in (*INPUT_FORMATS, "json"))
    return is_uri(arg) and not data_like and not any(c in arg for c in "*?[")
