"""``sentiscore bench``: options -> ``BenchConfig`` -> ``run_bench``."""

from __future__ import annotations

import click

from sentiscore.cli.options import CONTEXT, DEVICE, MAX_TOKENS, MODEL, TEXT_COLUMN, THREADS


@click.command("bench", context_settings=CONTEXT)
@click.argument("data", nargs=-1)
@MODEL
@TEXT_COLUMN
@click.option("--rows", type=int, default=1000, show_default=True, help="Texts per timed round.")
@click.option("--rounds", type=int, default=3, show_default=True, help="Timed rounds per variant.")
@DEVICE
@THREADS
@MAX_TOKENS
@click.option(
    "-o",
    "--output",
    default="sentiscore-bench",
    show_default=True,
    help="Directory for bench.json and bench.md.",
)
def bench_cmd(data, **options):
    """Measure each variant of a bundle on this machine: rows/s, tokens/s, padding efficiency
    and a row-invariance check, on DATA (files, dirs, globs) or a built-in sample. Says which
    variant --precision auto picks and why; writes JSON and a markdown table."""
    from sentiscore.infer.bench import BenchConfig, markdown, run_bench

    cfg = BenchConfig(data=tuple(data), **options)
    click.echo(markdown(run_bench(cfg)))
