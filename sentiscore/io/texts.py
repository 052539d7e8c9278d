"""A sample of texts (and, when asked, their gold labels) read from files, for the commands
that work on a sample rather than on every row: ``bench``'s timed rows and ``export``'s
validation set. The text column is found as ``score`` finds it (``--text-column``, else the
first of ``choices.TEXT_NAMES``); rows without a non-empty text are left out of the sample.

Scoring every row, with error columns, is ``infer``'s; mapping gold labels to ids is the
caller's (``infer.evaluate.LabelResolver``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sentiscore.choices import TEXT_NAMES
from sentiscore.errors import InputDataError
from sentiscore.io.columns import pick_column
from sentiscore.io.readers import discover_inputs, iter_batches, read_schema


@dataclass
class TextSample:
    texts: list[str]
    labels: list | None  # gold values as read, one per text; None without a label column
    source: str


def read_texts(
    paths: list[str],
    limit: int,
    text_column: str | None = None,
    label_column: str | None = None,
    error=InputDataError,
) -> TextSample:
    """Up to ``limit`` rows with a non-empty text from ``paths`` (files, directories, globs),
    in order. ``error``: the ``SentiscoreError`` class for a missing column."""
    texts: list[str] = []
    labels: list | None = [] if label_column else None
    for inp in discover_inputs(list(paths)):
        names = read_schema(inp).names
        text = pick_column(names, text_column, TEXT_NAMES, "text", "--text-column", error, inp.path)
        if label_column:
            pick_column(names, label_column, (), "label", "--label-column", error, inp.path)
        for batch in iter_batches(inp):
            column = batch.column(text).to_pylist()
            gold = batch.column(label_column).to_pylist() if label_column else column
            for value, label in zip(column, gold):
                if isinstance(value, str) and value.strip():
                    texts.append(value)
                    if labels is not None:
                        labels.append(label)
                    if len(texts) >= limit:
                        return TextSample(texts, labels, ", ".join(paths))
    return TextSample(texts, labels, ", ".join(paths))
