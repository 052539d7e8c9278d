"""Command line: ``sentiscore`` (train / export / upgrade / score / predict / evaluate /
bench) and ``score``.

Thin by design: options map one to one onto each stage's config dataclass, the library does
the work, and this module turns ``SentiscoreError`` into exit code 1 (usage errors stay 2),
draws progress bars and prints results. Tracebacks only with ``--verbose``. One module per
subcommand (``score``, ``predict``, ``evaluate``, ``bench``, ``export`` with ``upgrade``,
``train``); shared options in ``options``.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from sentiscore import __version__
from sentiscore.cli.logs import STATE, error, logging_options, setup_logging
from sentiscore.cli.options import CONTEXT
from sentiscore.errors import SentiscoreError

log = logging.getLogger("sentiscore")


class Group(click.Group):
    """Turns SentiscoreError into a one-line message and exit code 1."""

    def make_context(self, info_name, args, parent=None, **extra):
        STATE.update(json=False, verbose=False)  # each invocation starts from the defaults
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SentiscoreError as exc:
            if STATE["verbose"]:
                raise
            fields = {"expected": exc.expected, "found": exc.found, "fix": exc.fix}
            error(str(exc), exc.exit_code, **fields)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            error("Interrupted.", 130)
            ctx.exit(130)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="sentiscore")
@logging_options
@click.pass_context
def cli(ctx):
    """sentiscore: fine-tune, export and score review sentiment.

    \b
    Exit codes: 0 ok, 1 error (bad input, model, device...), 2 usage error, 130 interrupted.
    """
    ctx.ensure_object(dict)
    setup_logging()


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
        logging_options(cmd)  # -v / --log-json after the subcommand too
        cli.add_command(cmd)


_register()


def main() -> None:
    _exit_cleanly(lambda: cli.main(prog_name="sentiscore"))


def score_main() -> None:
    """The ``score`` console script: exactly ``sentiscore score``."""
    _exit_cleanly(lambda: cli.main(args=["score", *sys.argv[1:]], prog_name="sentiscore"))


def _exit_cleanly(run) -> None:
    """After an interrupt (exit 130), leave without the interpreter's teardown: what was
    saved is on disk and the message is printed, while ONNX Runtime's or OpenVINO's native
    threads may still be inside a micro-batch, and destroying them there can abort with
    'terminate called without an active exception'."""
    try:
        run()
    except SystemExit as exc:
        if exc.code != 130:
            raise
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
