"""The checks every input of a score run passes before its first row is scored: unique
column names, the id and text columns (the text column detected when not named), prediction
columns that clash with input columns (the prefix settled once), types that inputs sharing an
output agree on, and a ``--stats-json`` that is not an input. Needs only the bundle's labels,
so that a driver checks without loading a model; scoring is ``files``'s and the engines'
business.
"""

from __future__ import annotations

import collections
import logging
import os

import pyarrow as pa

from sentiscore.choices import TEXT_NAMES
from sentiscore.errors import ConfigError, InputDataError
from sentiscore.infer.config import ScoreConfig
from sentiscore.infer.rows import (
    check_columns,
    is_text_type,
    keep_list,
    output_names,
    provenance_fields,
    settle_prefix,
)
from sentiscore.io.columns import pick_column
from sentiscore.io.readers import InputFile, map_inputs, read_schema
from sentiscore.io.uris import is_uri

log = logging.getLogger(__name__)


def _keep_with_id(cfg: ScoreConfig):
    """--keep-columns, with --id-column and the provenance columns always kept."""
    always = [cfg.id_column, cfg.source_column, cfg.row_number_column]
    always = [n for n in always if n]
    if not always or cfg.keep_columns in ("all", None):
        return cfg.keep_columns
    rest = [] if cfg.keep_columns == "none" else [c.strip() for c in cfg.keep_columns.split(",")]
    return list(dict.fromkeys([*always, *rest]))


def with_provenance(schema: pa.Schema, cfg: ScoreConfig, where: str) -> pa.Schema:
    """An input's schema with the --source-column / --row-number-column columns added,
    refused when the input already has a column of that name."""
    added = provenance_fields(cfg.source_column, cfg.row_number_column)
    clash = [f.name for f in added if f.name in schema.names]
    if clash:
        raise ConfigError(
            "--source-column / --row-number-column names that no input column has",
            f"'{where}' already has a column {clash[0]!r}",
            "choose another name (input columns are never overwritten)",
        )
    return pa.schema([*schema, *added])


def check_inputs(inputs: list[InputFile], labels: list[str], cfg: ScoreConfig) -> tuple:
    """(kept columns, text column, prediction columns' prefix) for these inputs; fails fast,
    before any output is touched, on a missing id or text column, a non-text column or a name
    clash. The prefix is settled once for all of them (``rows.settle_prefix``), so that every
    output part has the same columns. Needs only the bundle's labels, not a loaded model."""
    keep, text_column = _keep_with_id(cfg), cfg.text_column
    _refuse_stats_on_inputs(cfg.stats_json, inputs)
    schemas, prefixes = [], set()
    for inp, schema in zip(inputs, map_inputs(read_schema, inputs), strict=True):
        schema = with_provenance(schema, cfg, inp.path)
        counts = collections.Counter(schema.names)
        dups = sorted(n for n, k in counts.items() if k > 1)
        if dups:
            raise InputDataError(
                "Unique column names",
                f"{dups} more than once in '{inp.path}'",
                "rename the repeated columns (e.g. in the CSV header)",
            )
        if cfg.id_column and cfg.id_column not in schema.names:
            raise InputDataError(
                f"An id column named '{cfg.id_column}' in '{inp.path}'",
                f"columns {schema.names}",
                "pass --id-column NAME, or leave it out",
            )
        if text_column is None:
            text_column = pick_column(
                schema.names,
                None,
                TEXT_NAMES,
                "text",
                "--text-column",
                where=inp.path,
                suggest=[f.name for f in schema if is_text_type(f.type) and not _id_like(f.name)],
            )
        prefixes.add(settle_prefix(schema.names, labels, keep, cfg.prefix))
        schemas.append((inp.path, schema))
    prefix = max(prefixes, key=len) if prefixes else (cfg.prefix or "")
    for path, schema in schemas:
        check_columns(schema, labels, text_column, keep, prefix, where=path)
    if cfg.prefix is None and prefix:
        log.info(
            "an input column is named like a prediction column: predictions go to %s, ... "
            "(--prefix chooses another prefix)",
            ", ".join(output_names(labels, prefix)[:3]),
        )
    _check_unifiable(schemas, keep)
    return keep, text_column, prefix


def _refuse_stats_on_inputs(stats_json: str | None, inputs: list[InputFile]) -> None:
    if not stats_json:
        return
    hit = [i.path for i in inputs if not is_uri(i.path) and _same_file(i.path, stats_json)]
    if hit:
        raise ConfigError(
            "A --stats-json path that is not one of the inputs",
            f"'{stats_json}' is the input '{hit[0]}'",
            "choose another --stats-json path (the input is left untouched)",
        )


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _id_like(name: str) -> bool:
    """review_id, productId, asin, url...: string columns that are never the text to score."""
    low = name.lower()
    return low.endswith(("id", "uuid", "asin", "url", "date", "time")) or low in ("sku", "key")


def _check_unifiable(schemas: list[tuple[str, pa.Schema]], keep) -> None:
    """Inputs going into one output must agree on the types of the columns they share (a
    column only some have is filled with nulls): checked before anything is scored."""
    seen: dict[str, tuple[str, pa.DataType]] = {}
    for path, schema in schemas:
        kept = None if keep in (None, "all") else set(keep_list(keep, schema.names))
        for field in schema:
            if kept is not None and field.name not in kept:
                continue
            first = seen.setdefault(field.name, (path, field.type))
            if first[1] == field.type:
                continue
            try:
                pa.unify_schemas(
                    [pa.schema([(field.name, first[1])]), pa.schema([field])],
                    promote_options="permissive",
                )
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                raise InputDataError(
                    "Inputs combined into one output to agree on column types",
                    f"column '{field.name}' is {first[1]} in '{first[0]}' but {field.type} in "
                    f"'{path}'",
                    "write one output per input (-o DIR/) or convert the column in one of them",
                ) from None
