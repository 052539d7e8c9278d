"""Command line: ``sentiscore`` (train / export / upgrade / score / predict / evaluate /
bench) and ``score``.

Thin by design: options map one to one onto each stage's config dataclass, the library does
the work, and this module turns ``SentiscoreError`` into exit code 1 (usage errors stay 2),
draws progress bars and prints results. Tracebacks only with ``--verbose``. One module per
subcommand (``score``, ``predict``, ``evaluate``, ``bench``, ``export`` with ``upgrade``,
``train``); shared options in ``options``.
"""

from __future__ import annotations

import json
import logging
import sys

import click

from sentiscore import __version__
from sentiscore.cli.options import CONTEXT
from sentiscore.errors import SentiscoreError

log = logging.getLogger("sentiscore")


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        return json.dumps(
            {
                "ts": round(record.created, 3),
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": record.getMessage(),
            }
        )


def setup_logging(verbose: bool, log_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter() if log_json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("sentiscore").setLevel(
        logging.DEBUG if verbose else logging.INFO if log_json else logging.WARNING
    )


class Group(click.Group):
    """Turns SentiscoreError into a one-line message and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SentiscoreError as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="sentiscore")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and full tracebacks on errors.")
@click.option(
    "--log-json", is_flag=True, help="Structured JSON log lines on stderr (for data jobs)."
)
@click.pass_context
def cli(ctx, verbose: bool, log_json: bool):
    """sentiscore: fine-tune, export and score review sentiment.

    \b
    Exit codes: 0 ok, 1 error (bad input, model, device...), 2 usage error, 130 interrupted.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    setup_logging(verbose, log_json)


def _register():
    from sentiscore.cli.bench import bench_cmd
    from sentiscore.cli.evaluate import evaluate_cmd
    from sentiscore.cli.export import export_cmd, upgrade_cmd
    from sentiscore.cli.predict import predict_cmd
    from sentiscore.cli.score import score_cmd
    from sentiscore.cli.train import train_cmd

    for cmd in (
        score_cmd,
        predict_cmd,
        evaluate_cmd,
        bench_cmd,
        export_cmd,
        upgrade_cmd,
        train_cmd,
    ):
        cli.add_command(cmd)


_register()


def main() -> None:
    cli(prog_name="sentiscore")


def score_main() -> None:
    """The ``score`` console script: exactly ``sentiscore score``."""
    cli.main(args=["score", *sys.argv[1:]], prog_name="sentiscore")


if __name__ == "__main__":  # pragma: no cover
    main()
