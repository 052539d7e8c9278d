"""Finds an unterminated quote in a CSV file, which a CSV parser that allows newlines in
values would otherwise read as one long value swallowing the rows after it.

``quote_count_is_odd`` is one fast pass over the bytes; only when it says so does
``unterminated_quote_line`` run a small quote-aware scan (a quote opens a value only at the
start of a field, ``""`` inside a quoted value is a literal quote). Reading the file and
raising the error are the reader's business.
"""

from __future__ import annotations

from collections.abc import Iterable


def quote_count_is_odd(blocks: Iterable[bytes], quote: bytes = b'"') -> bool:
    return sum(block.count(quote) for block in blocks) % 2 == 1


def unterminated_quote_line(lines: Iterable[tuple[int, bytes]], delimiter: str) -> int | None:
    """The line on which a quoted value opens and never properly closes, or None: it runs to
    the end of the file, or it spans lines and its closing quote is followed by more text
    (a stray quote that swallowed rows until the next quote). ``lines`` are (number, raw
    bytes without the newline)."""
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
