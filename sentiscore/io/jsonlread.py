"""JSON Lines reading: one pass settles every key's type over the whole file, then pyarrow's
streaming reader reads it with that schema.

pyarrow infers types block by block, so a key that is null for the first megabyte and a
string later, or that first appears late, would fail after minutes of work. The settling pass
(Python's json, cached per file version) also names the first line that is not a JSON object.
Ints and floats mix as float; arrays or objects of several shapes, or nested more than
``MAX_DEPTH`` levels, are read as JSON text; another key holding several JSON types (an id that is a number
here and a string there) is read as text (JSON text for the non-strings) by a Python reader; a
text column whose values change type is refused, naming the line (text must be a string). File discovery
and the other formats are ``readers``'s business.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator

import pyarrow as pa

from sentiscore.choices import TEXT_NAMES
from sentiscore.errors import InputDataError
from sentiscore.io.inputs import InputFile, file_version
from sentiscore.io.streams import grown_blocks, numbered_lines, rebatch

NESTED_SAMPLE = 1000
# Arrays and objects nested deeper than this are read as JSON text, not as Arrow types.
MAX_DEPTH = 32
log = logging.getLogger(__name__)
_SCALARS = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "boolean": pa.bool_()}


def iter_jsonl(inp: InputFile, batch_rows: int) -> Iterator[pa.RecordBatch]:
    from pyarrow import json as pajson

    schema, mixed = _settled(inp)
    if mixed:  # pyarrow cannot read a key with several types: Python does, as JSON text
        yield from _iter_python(inp, batch_rows, schema, mixed)
        return
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")

    def reader(f, block):
        read = pajson.ReadOptions(block_size=block)
        return pajson.open_json(f, read_options=read, parse_options=parse)

    for batch in grown_blocks(inp.path, reader):
        yield from rebatch(_ordered(batch, schema), batch_rows)


def _ordered(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Every batch with every key of the file, in first-seen order (nulls where absent)."""
    if batch.schema.names == schema.names:
        return batch
    cols = [
        batch.column(f.name) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def _iter_python(inp: InputFile, rows: int, schema: pa.Schema, mixed: frozenset):
    batch: list[dict] = []
    for _number, raw in numbered_lines(inp.path):
        if not raw.strip():
            continue
        obj = json.loads(raw)
        for k in mixed:
            v = obj.get(k)
            if v is not None and not isinstance(v, str):
                obj[k] = json.dumps(v, ensure_ascii=False)
        batch.append(obj)
        if len(batch) == rows:
            yield pa.RecordBatch.from_pylist(batch, schema=schema)
            batch = []
    if batch:
        yield pa.RecordBatch.from_pylist(batch, schema=schema)


def _settled(inp: InputFile) -> tuple[pa.Schema, frozenset]:
    return _schema_of(file_version(inp), inp)


@functools.lru_cache(maxsize=256)
def _schema_of(_key: tuple, inp: InputFile) -> tuple[pa.Schema, frozenset]:
    """(schema, keys holding several JSON types) of the whole file."""
    kinds: dict[str, str] = {}
    nested: dict[str, list] = {}  # array/object keys: a sample of values, to type them
    text_keys = {n.lower() for n in TEXT_NAMES} | {(inp.text_column or "").lower()}
    for number, raw in numbered_lines(inp.path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise _bad(inp, f"{number}: not valid JSON ({exc})") from None
        except RecursionError:
            raise _bad(inp, f"{number}: values nested too deeply to read") from None
        if not isinstance(obj, dict):
            raise _bad(inp, f"{number}: a JSON {_kind(obj)}, not an object")
        for k, value in obj.items():
            if k not in kinds and not _valid_unicode(k):
                raise _bad(inp, f"{number}: the key {k!r} is not valid Unicode (a lone surrogate)")
            kind, before = _kind(value), kinds.setdefault(k, "null")
            if kind in ("array", "object") and len(nested.setdefault(k, [])) < NESTED_SAMPLE:
                nested[k].append(value)
            if kind == "null" or kind == before:
                continue
            if before == "null" or {kind, before} == {"int", "float"}:
                kinds[k] = "float" if "float" in (kind, before) else kind
            elif k.lower() in text_keys:
                raise _bad(
                    inp,
                    f"{number}: '{k}' holds a JSON {_shown(kind)}, "
                    f"earlier lines a JSON {_shown(before)}",
                )
            elif before != "mixed":
                log.info("%s: '%s' holds several JSON types; read as JSON text", inp.path, k)
                kinds[k] = "mixed"
    for k, v in kinds.items():  # arrays or objects that no one Arrow type holds: JSON text
        if v in ("array", "object") and _type(v, nested.get(k)) is None:
            log.info("%s: '%s' holds values of several shapes; read as JSON text", inp.path, k)
            kinds[k] = "mixed"
    schema = pa.schema([(k, _type(v, nested.get(k))) for k, v in kinds.items()])
    return schema, frozenset(k for k, v in kinds.items() if v == "mixed")


def _depth(value) -> int:
    """How deeply a JSON value nests (0 for a scalar), counted without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        v, d = todo.pop()
        deepest = max(deepest, d)
        if isinstance(v, dict):
            todo += [(x, d + 1) for x in v.values()]
        elif isinstance(v, list):
            todo += [(x, d + 1) for x in v]
    return deepest


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type(kind: str, sample: list | None) -> pa.DataType | None:
    """The Arrow type of a key's values; None for arrays or objects no one type holds."""
    if kind == "mixed":
        return pa.string()
    if kind in _SCALARS:
        return _SCALARS[kind]
    if sample:  # arrays and objects: typed from their first values
        if max(map(_depth, sample)) > MAX_DEPTH:
            return None
        try:
            return pa.array(sample).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, RecursionError):
            return None
    return pa.null()


def _bad(inp: InputFile, problem: str) -> InputDataError:
    return InputDataError(
        "JSON Lines: one JSON object per line, each key holding one type of value",
        f"'{inp.path}' line {problem}",
        "fix that line (text must be a JSON string)",
    )


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _shown(kind: str) -> str:
    return "number" if kind in ("int", "float") else kind
