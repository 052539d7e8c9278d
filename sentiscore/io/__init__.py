"""Streaming input/output: readers yield bounded RecordBatches, writers write parts atomically.

Knows file formats and paths; knows nothing about models.
"""

from sentiscore.io.readers import InputFile, count_rows, discover_inputs, iter_batches
from sentiscore.io.writers import PartWriter, concat_parts, output_format

__all__ = [
    "InputFile",
    "discover_inputs",
    "iter_batches",
    "count_rows",
    "PartWriter",
    "concat_parts",
    "output_format",
]
