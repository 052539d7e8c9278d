"""What a row must hold to be scored and which columns go out: text checks per row (null,
empty, not a string, invalid UTF-8, repaired so it can still be written), the text column's
type, the kept input columns, the prediction column names and the output batch (``assemble``).
Pyarrow and numpy; scoring is ``scorer``'s business.
"""

from __future__ import annotations

import html
import re
import unicodedata

import numpy as np
import pyarrow as pa

from sentiscore.errors import ConfigError, InputDataError

# The prediction columns' prefix when none is given and an input column already has one of
# their names (a labeled file's own 'label'): then every prediction column carries it.
AUTO_PREFIX = "pred_"


def settle_prefix(names: list[str], labels: list[str], keep_columns="all", prefix=None) -> str:
    """``prefix`` as given; when not given (None): none, or ``AUTO_PREFIX`` for all the
    prediction columns when a kept input column has one of their names, so that scoring a
    labeled file needs no flag and never overwrites its columns."""
    if prefix is not None:
        return prefix
    clash = set(keep_list(keep_columns, list(names))) & set(output_names(labels))
    return AUTO_PREFIX if clash else ""


def check_min_score(min_score: float | None) -> None:
    """``--min-score``: a probability, 0 < P <= 1, or None (every scored row is labeled)."""
    if min_score is not None and not 0 < min_score <= 1:
        raise ConfigError("--min-score between 0 and 1", str(min_score), "e.g. 0.7")


def output_fields(labels: list[str], prefix: str = "") -> list[pa.Field]:
    """The prediction columns, the one definition every engine writes: label, label_id,
    score, prob_<label> for each label, error (each name with ``prefix``)."""
    return [
        pa.field(f"{prefix}label", pa.string()),
        pa.field(f"{prefix}label_id", pa.int32()),
        pa.field(f"{prefix}score", pa.float32()),
        *[pa.field(f"{prefix}prob_{lab}", pa.float32()) for lab in labels],
        pa.field(f"{prefix}error", pa.string()),
    ]


def output_names(labels: list[str], prefix: str = "") -> list[str]:
    return [f.name for f in output_fields(labels, prefix)]


def output_schema(
    input_schema: pa.Schema, labels: list[str], keep_columns="all", prefix: str = ""
) -> pa.Schema:
    """The scored output's schema: the kept input columns, then ``output_fields``."""
    kept = [input_schema.field(n) for n in keep_list(keep_columns, input_schema.names)]
    return pa.schema([*kept, *output_fields(labels, prefix)])


def repair_utf8(batch: pa.RecordBatch, name: str) -> tuple[pa.RecordBatch, set[int]]:
    """A string column holding invalid UTF-8 (Parquet does not check) is rebuilt with U+FFFD in
    place of the bad bytes, so that it can still be written out; returns the batch and the rows
    that were repaired, which are reported as errors."""
    col = batch.column(name)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return batch, set()
    try:
        col.validate(full=True)
        return batch, set()
    except pa.ArrowInvalid:
        pass
    raw = col.view(pa.binary() if pa.types.is_string(col.type) else pa.large_binary())
    bad, fixed = set(), []
    for i, v in enumerate(raw.to_pylist()):
        try:
            fixed.append(None if v is None else v.decode("utf-8"))
        except UnicodeDecodeError:
            bad.add(i)
            fixed.append(v.decode("utf-8", "replace"))
    index = batch.schema.get_field_index(name)
    return batch.set_column(index, name, pa.array(fixed, type=col.type)), bad


def check_texts(
    col: pa.ChunkedArray | pa.Array, html: bool = False
) -> tuple[list[str | None], list[str | None]]:
    """Return (texts or None, error or None) per row; ``html``: texts go through
    ``strip_html`` first (a text of only markup is then empty)."""
    texts, errors = _checked(col)
    if html:
        for i, t in enumerate(texts):
            if t is not None:
                texts[i] = strip_html(t)
                if is_blank(texts[i]):
                    texts[i], errors[i] = None, "text is empty"
    return texts, errors


_TAG = re.compile(r"<[A-Za-z/!][^<>]{0,500}>")


def strip_html(text: str) -> str:
    """``text`` without HTML tags (each becomes a space: IMDB's ``<br /><br />`` separate
    paragraphs) and with entities decoded (``&amp;`` is ``&``)."""
    if "<" not in text and "&" not in text:
        return text
    return html.unescape(_TAG.sub(" ", text))


def _checked(col: pa.ChunkedArray | pa.Array) -> tuple[list[str | None], list[str | None]]:
    t = col.type
    if pa.types.is_null(t):
        return [None] * len(col), ["text is null"] * len(col)
    if pa.types.is_dictionary(t) or _is_string_view(t):
        col = col.cast(t.value_type if pa.types.is_dictionary(t) else pa.string())
        t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        values = col.to_pylist()
        errs = [
            ("text is null" if v is None else "text is empty" if is_blank(v) else None)
            for v in values
        ]
        return [v if e is None else None for v, e in zip(values, errs)], errs
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        texts, errs = [], []
        for raw in col.to_pylist():
            try:
                v = None if raw is None else raw.decode("utf-8")
            except UnicodeDecodeError:
                texts.append(None)
                errs.append("text is not valid UTF-8")
                continue
            e = "text is null" if v is None else "text is empty" if is_blank(v) else None
            texts.append(v if e is None else None)
            errs.append(e)
        return texts, errs
    n = len(col)
    return [None] * n, [f"text is not a string (column type {t})"] * n


def is_blank(text: str) -> bool:
    """Whether ``text`` has nothing to score: empty, or only whitespace and invisible format
    or control characters (zero-width spaces, a byte order mark, soft hyphens, NUL)."""
    rest = text.strip()
    if not rest:
        return True
    if unicodedata.category(rest[0]) not in _INVISIBLE:
        return False  # the common case: a visible first character
    return all(c.isspace() or unicodedata.category(c) in _INVISIBLE for c in rest)


# Unicode categories that show nothing: format (U+200B, U+FEFF, ...) and control characters.
_INVISIBLE = ("Cf", "Cc")


def _is_string_view(t: pa.DataType) -> bool:
    return str(t) == "string_view"


def is_text_type(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` can hold texts: strings (plain, large, view, dictionary
    encoded), UTF-8 bytes, or all nulls."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or _is_string_view(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_null(t)
    )


def check_columns(
    schema: pa.Schema,
    labels: list[str],
    text_column: str = "text",
    keep_columns="all",
    prefix: str = "",
    where: str | None = None,
) -> list[str]:
    """The text column must exist and hold text, and no kept input column may share a name
    with a prediction column; return the input columns to keep. Needs only the labels, so a
    driver can check without loading a model. ``where``: the input's name, for the errors."""
    names = schema.names
    at = f"'{where}': " if where else ""
    if text_column not in names:
        raise InputDataError(
            f"A text column named '{text_column}'",
            f"{at}columns {names}",
            "pass --text-column NAME",
        )
    kind = schema.field(text_column).type
    if not is_text_type(kind):
        texts = [f.name for f in schema if is_text_type(f.type)]
        raise InputDataError(
            f"A text column '{text_column}' of strings",
            f"{at}type {kind}",
            "pass --text-column with a string column" + (f", e.g. one of {texts}" if texts else ""),
        )
    keep = keep_list(keep_columns, names)
    clash = sorted(set(keep) & set(output_names(labels, prefix)))
    if clash:
        raise ConfigError(
            "Input columns not to share names with the prediction columns",
            f"{at}input column(s) {clash} clash",
            "pass another --prefix (or --keep-columns to drop them); input columns are never "
            "overwritten",
        )
    return keep


def keep_list(keep_columns, names: list[str]) -> list[str]:
    """The input columns ``--keep-columns`` (all, none, or "a,b" / a list) keeps, in order."""
    if keep_columns in (None, "all"):
        return list(names)
    if keep_columns == "none":
        return []
    wanted = (
        [c.strip() for c in keep_columns.split(",")]
        if isinstance(keep_columns, str)
        else list(keep_columns)
    )
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InputDataError(
            "--keep-columns to name existing columns",
            f"{missing} not in {names}",
            "fix the list, or use all / none",
        )
    return wanted


def provenance_fields(source_column: str | None, row_number_column: str | None) -> list:
    """The columns ``--source-column`` / ``--row-number-column`` add to every input row."""
    fields = [pa.field(source_column, pa.string())] if source_column else []
    return fields + ([pa.field(row_number_column, pa.int64())] if row_number_column else [])


def add_provenance(
    batch: pa.RecordBatch, source: str, first_row: int, source_column, row_number_column
) -> pa.RecordBatch:
    """``batch`` (rows ``first_row``... of the input ``source``) with the provenance columns
    appended: the input's name and each row's 0-based number in it."""
    if not source_column and not row_number_column:
        return batch
    from sentiscore.io.readers import display_name

    n, cols, names = batch.num_rows, list(batch.columns), list(batch.schema.names)
    if source_column:
        cols.append(pa.array([display_name(source)] * n, pa.string()))
        names.append(source_column)
    if row_number_column:
        cols.append(pa.array(range(first_row, first_row + n), pa.int64()))
        names.append(row_number_column)
    return pa.RecordBatch.from_arrays(cols, names=names)


def assemble(batch, keep, prefix, valid, probs, errors, labels, min_score=None) -> pa.RecordBatch:
    """The output batch: the ``keep`` input columns, then the prediction columns of
    ``output_fields``; ``valid`` rows get ``probs``, the others null predictions and their
    ``errors``; with ``min_score``, rows whose top probability is below it get a null label."""
    n = batch.num_rows
    mask = np.ones(n, dtype=bool)
    mask[valid] = False  # True = null
    full = np.zeros((n, len(labels)), dtype=np.float32)
    full[valid] = probs
    label_id = full.argmax(axis=1).astype(np.int32)
    score = full.max(axis=1)
    abstain = mask | (score < min_score) if min_score else mask
    cols = {name: batch.column(name) for name in keep}
    cols[f"{prefix}label"] = pa.DictionaryArray.from_arrays(
        pa.array(label_id, mask=abstain), pa.array(labels, type=pa.string())
    ).cast(pa.string())
    cols[f"{prefix}label_id"] = pa.array(label_id, mask=abstain)
    cols[f"{prefix}score"] = pa.array(score, mask=mask)
    for j, lab in enumerate(labels):
        cols[f"{prefix}prob_{lab}"] = pa.array(full[:, j], mask=mask)
    cols[f"{prefix}error"] = pa.array(errors, type=pa.string())
    schema = pa.schema([*(batch.schema.field(c) for c in keep), *output_fields(labels, prefix)])
    return pa.RecordBatch.from_arrays(list(cols.values()), schema=schema)
