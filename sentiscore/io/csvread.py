"""CSV/TSV reading: a quote check, column types, then pyarrow's streaming parser.

Before rows are read, the file is checked for an unterminated quote (``csvquotes``), which a
parser allowing newlines in values would read as one value swallowing the rows after it, and
its column types are settled in one pass over the whole file, so that no later block can
disagree with the first: a column is int64, float64 or bool when every non-empty value is one
exactly (ids with leading zeros such as 007 stay strings, so do integers of 16 digits or more
in a column with fractions, and integers beyond int64), else string. Text columns (the one named by
the caller, or a conventional text name) are always strings. Both results are cached per file
version. File discovery and the other formats are ``readers``'s business.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pyarrow as pa

from sentiscore.choices import TEXT_NAMES
from sentiscore.errors import InputDataError, first_line
from sentiscore.io.inputs import InputFile, file_version
from sentiscore.io.streams import MAX_ROW_BYTES, grown_blocks, numbered_lines, open_stream, rebatch

# Tried in this order: a column of ints is int64, not float64. An integer beyond int64, or
# one of 16 digits or more (which float64 cannot hold exactly), keeps its column a string.
_LONG_INT = r"^-?[0-9]{16,}$"
_INT64 = (-(2**63), 2**63 - 1)
_TYPES = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
_PATTERNS = {
    "int": r"^-?(0|[1-9][0-9]{0,18})$",  # no leading zeros: 007 is an id, kept as a string
    "float": r"^-?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$",
    "bool": r"^(?i:true|false)$",
}


def iter_csv(inp: InputFile, batch_rows: int) -> Iterator[pa.RecordBatch]:
    types = _settled(inp)
    try:
        yield from _parse(inp, batch_rows, types)
    except pa.ArrowInvalid as exc:
        raise _explain(inp, exc) from exc


def _explain(inp: InputFile, exc: pa.ArrowInvalid) -> Exception:
    if "Expected" in str(exc) and "columns" in str(exc):
        shown = {",": "','", ";": "';'", "\t": "tab"}.get(inp.delimiter, repr(inp.delimiter))
        return InputDataError(
            f"CSV rows with as many fields as the header, split on {shown}",
            f"'{inp.path}': {first_line(exc)}",
            "pass --delimiter (e.g. --delimiter ';' or --delimiter $'\\t') or fix the quoting",
        )
    if "UTF8" not in str(exc) and "UTF-8" not in str(exc):
        return exc
    return InputDataError(
        "CSV text encoded as UTF-8",
        f"undecodable bytes in '{inp.path}' at line {_first_bad_utf8_line(inp)}",
        "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
    )


def _parse(inp: InputFile, batch_rows: int, types: dict | None) -> Iterator[pa.RecordBatch]:
    from pyarrow import csv

    parse = csv.ParseOptions(delimiter=inp.delimiter, newlines_in_values=True)
    if types is None:  # the typing pass: everything as strings
        types = {name: pa.string() for name in _header(inp)}
    conv = csv.ConvertOptions(column_types=types, strings_can_be_null=False)

    def reader(f, block):
        read = csv.ReadOptions(block_size=block)
        return csv.open_csv(f, read_options=read, parse_options=parse, convert_options=conv)

    for batch in grown_blocks(inp.path, reader):
        yield from rebatch(batch, batch_rows)


def _settled(inp: InputFile) -> dict:
    return dict(_check_and_type(file_version(inp), inp))


@functools.lru_cache(maxsize=256)
def _check_and_type(_key: tuple, inp: InputFile) -> tuple:
    _check_quotes(inp)
    return tuple(_infer_types(inp).items())


def _check_quotes(inp: InputFile) -> None:
    """Refuse a CSV with an unterminated quote, naming its line, before reading rows."""

    def blocks():
        with open_stream(inp.path) as f:
            while block := f.read(1 << 20):
                yield block

    if not quote_count_is_odd(blocks()):
        return
    line = unterminated_quote_line(numbered_lines(inp.path), inp.delimiter)
    if line is not None:
        raise InputDataError(
            "Every quoted CSV value to end with a closing quote",
            f"a quote opens on line {line} of '{inp.path}' and is never properly closed "
            "(every row after it would be read into that one value)",
            'close or remove that quote (a literal quote inside a quoted value is written "")',
        )


def _infer_types(inp: InputFile) -> dict:
    """Column -> type, from every value of the file (see the module docstring)."""
    import pyarrow.compute as pc

    text = {n.lower() for n in TEXT_NAMES}
    kinds: dict[str, set] = {}  # column -> the types all its values so far fit
    filled_somewhere: set[str] = set()
    try:
        for batch in _parse(inp, 1 << 30, None):
            for name, col in zip(batch.schema.names, batch.columns):
                left = kinds.setdefault(name, set() if name.lower() in text else set(_TYPES))
                filled = pc.filter(col, pc.not_equal(col, "")) if left else []
                if not len(filled):
                    continue
                filled_somewhere.add(name)
                for kind in list(left):
                    if not pc.all(pc.match_substring_regex(filled, _PATTERNS[kind])).as_py():
                        left.discard(kind)
                if left & {"int", "float"}:
                    left -= _inexact(filled)
    except pa.ArrowInvalid as exc:
        raise _explain(inp, exc) from exc
    types = {}
    for name, left in kinds.items():
        kind = next((k for k in _TYPES if k in left), None) if name in filled_somewhere else None
        types[name] = _TYPES.get(kind, pa.string())
    return types


def _inexact(filled: pa.Array) -> set[str]:
    """The numeric kinds that could not hold every long integer in ``filled`` exactly."""
    import pyarrow.compute as pc

    long = pc.filter(filled, pc.match_substring_regex(filled, _LONG_INT))
    if not len(long):
        return set()
    beyond = any(not _INT64[0] <= int(v) <= _INT64[1] for v in long.to_pylist())
    return {"int", "float"} if beyond else {"float"}


def quote_count_is_odd(blocks, quote: bytes = b'"') -> bool:
    return sum(block.count(quote) for block in blocks) % 2 == 1


def unterminated_quote_line(lines, delimiter: str) -> int | None:
    """The line on which a quoted value opens and never properly closes, or None: it runs to
    the end of the file, or it spans lines and its closing quote is followed by more text
    (a stray quote that swallowed rows until the next quote). ``lines`` are (number, raw
    bytes without the newline). A quote opens a value only at the start of a field; ``""``
    inside a quoted value is a literal quote. Slow, so run only when the quote count is odd."""
    delim = delimiter.encode()
    inside, opened = False, None
    for number, raw in lines:
        at_field_start, i, n = True, 0, len(raw.rstrip(b"\r"))
        while i < n:
            c = raw[i : i + 1]
            if inside:
                if c == b'"' and raw[i + 1 : i + 2] == b'"':
                    i += 1  # an escaped quote
                elif c == b'"':
                    inside, at_field_start = False, False
                    if opened != number and i + 1 < n and raw[i + 1 : i + 2] != delim:
                        return opened
            elif c == b'"' and at_field_start:
                inside, opened = True, number
            else:
                at_field_start = c == delim
            i += 1
    return opened if inside else None


def _header(inp: InputFile) -> list[str]:
    import csv as pycsv
    import io

    with open_stream(inp.path) as f:  # up to the first newline, however wide the header
        head = f.read(1 << 16)
        while b"\n" not in head and len(head) < MAX_ROW_BYTES and (more := f.read(1 << 20)):
            head += more
    text = head.decode("utf-8", errors="replace")
    try:
        return next(pycsv.reader(io.StringIO(text, newline=None), delimiter=inp.delimiter), [])
    except pycsv.Error as exc:  # binary data, e.g. a file compressed twice
        raise InputDataError(
            "A CSV file with a header line",
            f"'{inp.path}' does not start like CSV ({exc})",
            "check that it is CSV text (gzip once at most, named .csv.gz)",
        ) from None


def _first_bad_utf8_line(inp: InputFile) -> int | str:
    for number, raw in numbered_lines(inp.path):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return "?"
