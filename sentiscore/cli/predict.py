"""``sentiscore predict``: a few texts (or stdin lines) -> labels and scores."""

from __future__ import annotations

import json
import sys

import click

from sentiscore.cli.options import CONTEXT, MODEL, scoring


@click.command("predict", context_settings=CONTEXT)
@click.argument("texts", nargs=-1)
@MODEL
@scoring
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line instead of a table."
)
def predict_cmd(texts, model, device, precision, verify, as_json):
    """Predict the sentiment of TEXTS (or of each stdin line when none are given)."""
    from sentiscore.errors import InputDataError
    from sentiscore.infer.scorer import Scorer

    if not texts:
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    if not texts:
        raise InputDataError(
            "Text to score, as arguments or as stdin lines",
            "no TEXT arguments and an empty stdin",
            'pass a text (sentiscore predict "Great film!") or pipe lines in',
        )
    scorer = Scorer.load(model, device=device, precision=precision, verify=verify)
    results = scorer.predict(list(texts))
    if as_json:
        for text, r in zip(texts, results):
            click.echo(json.dumps({"text": text, **r}, ensure_ascii=False))
        return
    width = max([len(lab) for lab in scorer.labels] + [5])
    click.echo(f"{'label':<{width}}  {'score':>6}  text")
    for text, r in zip(texts, results):
        shown = text if len(text) <= 70 else text[:67] + "..."
        if r.get("error"):
            click.echo(f"{'-':<{width}}  {'-':>6}  {shown}  [error: {r['error']}]")
        else:
            click.echo(f"{r['label']:<{width}}  {r['score']:6.3f}  {shown}")
