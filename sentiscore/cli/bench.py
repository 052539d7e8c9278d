"""``sentiscore bench``: options -> ``BenchConfig`` -> ``run_bench``."""

from __future__ import annotations

import click

from sentiscore.choices import DEVICES
from sentiscore.cli.options import CONTEXT


@click.command("bench", context_settings=CONTEXT)
@click.argument("data", nargs=-1)
@click.option(
    "-m", "--model", default="default", show_default=True, help="Bundle directory or 'default'."
)
@click.option("--text-column", default="text", show_default=True)
@click.option("--rows", type=int, default=1000, show_default=True, help="Texts per timed round.")
@click.option("--rounds", type=int, default=3, show_default=True, help="Timed rounds per variant.")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--max-tokens", type=int, default=None, help="Token budget per micro-batch.")
@click.option(
    "-o",
    "--output",
    default="sentiscore-bench",
    show_default=True,
    help="Directory for bench.json and bench.md.",
)
def bench_cmd(data, model, text_column, rows, rounds, device, threads, max_tokens, output):
    """Measure each variant of a bundle on this machine: rows/s, tokens/s, padding efficiency
    and a row-invariance check, on DATA (files, dirs, globs) or a built-in sample. Says which
    variant --precision auto picks and why; writes JSON and a markdown table."""
    from sentiscore.infer.bench import BenchConfig, markdown, run_bench

    cfg = BenchConfig(
        model=model,
        data=tuple(data),
        text_column=text_column,
        rows=rows,
        rounds=rounds,
        device=device,
        threads=threads,
        max_tokens=max_tokens,
        output=output,
    )
    click.echo(markdown(run_bench(cfg)))
