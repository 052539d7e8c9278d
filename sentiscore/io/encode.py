"""How values that CSV and JSON Lines cannot hold directly are written: one definition for
every text writer (files, parts concatenated into a final file, stdout).

The rules follow protobuf's JSON mapping, so that every value can be read back exactly:

- binary values (binary, large_binary, fixed-size binary, binary_view) are base64 text;
- in JSON, the floats NaN, Infinity and -Infinity are the strings ``"NaN"``, ``"Infinity"``
  and ``"-Infinity"`` (bare ``NaN`` is not JSON); CSV writes ``nan``, ``inf``, ``-inf``;
- in CSV, nested values (lists, structs, maps) are JSON text with the same rules;
- dates, times and timestamps are ISO 8601 text, decimals their exact digits as text in JSON
  (as numbers in CSV), durations integers in their unit; dictionary columns their values.

Parquet outputs keep every Arrow type as it is. Reading, and which columns exist, are other
modules' business.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math

import pyarrow as pa


def _is_binary(t: pa.DataType) -> bool:
    return (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    )


def _is_nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t) or pa.types.is_union(t)


def _json_value(v):
    """A Python value (from ``to_pylist``) as plain JSON data, recursively."""
    if isinstance(v, float):
        if math.isfinite(v):
            return v
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(p, tuple) and len(p) == 2 for p in v):  # a map's pairs
            return {str(k): _json_value(x) for k, x in v}
        return [_json_value(x) for x in v]
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def _json_values(col: pa.Array) -> list:
    """A column's values as plain JSON data (a map column's values as objects, even empty)."""
    if pa.types.is_map(col.type):
        return [
            None if v is None else {str(k): _json_value(x) for k, x in v} for v in col.to_pylist()
        ]
    return [_json_value(v) for v in col.to_pylist()]


def _needs_care(col: pa.Array) -> bool:
    """Whether a column's Python values are not JSON as they are (in a JSON line)."""
    t = col.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_floating(t):
        import pyarrow.compute as pc

        return col.null_count < len(col) and not pc.all(pc.is_finite(col)).as_py()
    return not (pa.types.is_integer(t) or pa.types.is_boolean(t) or _is_text(t) or t == pa.null())


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def json_lines(batch: pa.RecordBatch) -> bytes:
    """``batch`` as JSON Lines, UTF-8, one object per row, column order kept."""
    try:
        return _json_lines(batch)
    except RecursionError:
        raise _too_deep("JSON Lines") from None


def for_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with every column in a type Arrow's CSV writer takes: binary as base64,
    nested values as JSON text, string views as strings (see the module docstring)."""
    try:
        cols = [_csv_column(c) for c in batch.columns]
    except RecursionError:
        raise _too_deep("CSV") from None
    if all(a is b for a, b in zip(cols, batch.columns)):
        return batch
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _too_deep(fmt: str):
    from sentiscore.errors import InputDataError

    return InputDataError(
        f"Values nested shallowly enough to write as {fmt}",
        "a column nests hundreds of levels deep",
        "write Parquet (-o out.parquet), or drop the column (--keep-columns)",
    )


def _json_lines(batch: pa.RecordBatch) -> bytes:
    rows = batch.to_pylist()
    for name, col in zip(batch.schema.names, batch.columns):
        if _needs_care(col):
            for row, value in zip(rows, _json_values(col)):
                row[name] = value
    dump = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    return "".join(dump(r) + "\n" for r in rows).encode("utf-8")


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """The schema ``for_csv`` gives batches of ``schema``."""
    empty = pa.RecordBatch.from_pylist([], schema=schema)
    return for_csv(empty).schema


def _csv_column(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_dictionary(t):
        return _csv_column(col.dictionary_decode())
    if pa.types.is_string_view(t):
        return col.cast(pa.string())
    if _is_binary(t):
        values = col.to_pylist()
        return pa.array(
            [None if v is None else base64.b64encode(v).decode("ascii") for v in values],
            pa.string(),
        )
    if _is_nested(t):
        dump = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
        values = [None if v is None else dump(v) for v in _json_values(col)]
        return pa.array(values, pa.string())
    return col
