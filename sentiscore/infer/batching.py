"""Length bucketing: sort a window of encoded rows by length, cut micro-batches under a token
budget, pad each batch only to its own longest row, or (``same_length``, for an engine whose
results move with padding) pad every row to a width that depends on its own length alone
(``row_width``), so that a micro-batch holds rows of one
width and a row is computed the same way whatever it is batched with.

Pure numpy; it does not tokenise (``tokenize``) or run models (``session``). The caller
restores input order with the returned row indices.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class MicroBatch:
    rows: np.ndarray  # positions in the window, for restoring order
    input_ids: np.ndarray  # (n, L) int64
    attention_mask: np.ndarray  # (n, L) int64

    @property
    def real_tokens(self) -> int:
        return int(self.attention_mask.sum())

    @property
    def computed_tokens(self) -> int:
        return int(self.input_ids.size)


# Attention holds rows x heads x L x L scores: past this width, the rows of a micro-batch are
# limited so that rows * L * L <= max_tokens * ATTENTION_WIDTH (at L = 512 and 4,096 tokens,
# two rows: peak memory 555 -> 306 MB with the default model, at the same rows/s).
ATTENTION_WIDTH = 128
# ``same_length`` widths: a row of L tokens is computed at the next multiple of a step that
# grows with L (4 up to 63 tokens, then an eighth of the power of two at or below L: 8 from 64,
# 16 from 128, 32 from 256, 64 from 512), so padding stays under 1/8 of a row and rows share
# few widths. Exact lengths gave many small batches and one kernel set per length in OpenVINO;
# a step of 8 for short rows computed 8 % more tokens than one of 4 on SST-2 sentences, for
# ~4 % fewer rows/s (docs/experiments/cpu-scoring-speed.md has the end-to-end figures).
PAD_STEP = 4


def row_width(lengths: np.ndarray, cap: int | None = None) -> np.ndarray:
    """The width each row is computed at in ``same_length`` mode: a function of its own length
    (and the fixed ``cap``, the longest a row can be: the model's positions end there)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    power = np.left_shift(1, np.floor(np.log2(np.maximum(lengths, 1))).astype(np.int64))
    step = np.maximum(PAD_STEP, power // 8)
    widths = -(-lengths // step) * step
    return widths if cap is None else np.maximum(np.minimum(widths, cap), lengths)


def plan_batches(
    lengths: np.ndarray,
    max_tokens: int,
    max_rows: int = 256,
    min_efficiency: float = 0.99,
    min_rows: int = 8,
    same_length: bool = False,
    widths: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Group row positions, sorted by length, so that rows * longest <= max_tokens (and
    rows * longest**2 <= max_tokens * ATTENTION_WIDTH) and, once a batch has ``min_rows``
    rows, real tokens stay >= ``min_efficiency`` of computed tokens (0.99 measured +8 % rows/s
    over 0.95 on SST-2 dev together with completion-order streams); ``same_length``: only
    rows of one width per batch, ``widths`` (default: the lengths) being what each row is
    padded to."""
    cells = max_tokens * ATTENTION_WIDTH
    if same_length:
        lengths = lengths if widths is None else widths
        min_efficiency = 0.0  # the padding is the rows' own, not the batch's
    order = np.argsort(lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    n = len(order)
    while start < n:
        end = start + 1
        real = int(lengths[order[start]])
        # Rows are ascending in length, so the last row decides the padded width.
        while end < n and end - start < max_rows:
            width, rows = int(lengths[order[end]]), end - start + 1
            if (
                (same_length and width != lengths[order[start]])
                or rows * width > max_tokens
                or rows * width * width > cells
                or (rows > min_rows and real + width < min_efficiency * rows * width)
            ):
                break
            real += width
            end += 1
        batches.append(order[start:end])
        start = end
    # Longest first: the biggest allocation happens once, up front.
    return batches[::-1]


def iter_micro_batches(
    ids: list[np.ndarray],
    max_tokens: int,
    pad_id: int = 0,
    max_rows: int = 256,
    same_length: bool = False,
    max_width: int | None = None,
) -> Iterator[MicroBatch]:
    """Yield padded micro-batches covering every row of ``ids`` exactly once. ``max_width``:
    the longest a row can be (the scorer's max_length), which ``same_length`` widths keep to."""
    if not ids:
        return
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    widths = row_width(lengths, max_width) if same_length else lengths
    for rows in plan_batches(lengths, max_tokens, max_rows, same_length=same_length, widths=widths):
        width = int(widths[rows].max())
        input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for j, r in enumerate(rows):
            k = lengths[r]
            input_ids[j, :k] = ids[r]
            mask[j, :k] = 1
        yield MicroBatch(rows, input_ids, mask)
