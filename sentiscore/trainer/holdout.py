"""Leak-free validation for phrase-level data: hold out whole sentences and their parts.

SST-2's training set holds every sentence of its treebank *and* the sub-phrases parsed from it
("the film", "a remarkable ability to document ..."). A random row split puts a sentence in
validation while its phrases, with their labels, stay in training, so validation accuracy and
the temperature fitted on it are optimistic for truly unseen sentences (SST-2 dev). This module
selects validation rows among *sentences* (rows that are not part of a longer row) and drops
from training every row that is a word span of a held-out sentence.

Pure Python on lists; loading, cleaning and label mapping are ``data``'s job.
"""

from __future__ import annotations

import logging
import random

log = logging.getLogger(__name__)
MAX_SPAN_WORDS = 64  # longer rows are documents, not phrase trees: never enumerated


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.lower().split())


def _spans(words: tuple[str, ...], strict: bool):
    """Every contiguous word span of ``words`` (without the whole when ``strict``)."""
    n = len(words)
    for length in range(1, n if strict else n + 1):
        for i in range(n - length + 1):
            yield words[i : i + length]


def sentence_rows(texts: list[str]) -> list[int]:
    """Indices of rows that are not a strict word span of another row."""
    words = [_words(t) for t in texts]
    present = set(words)
    contained: set[tuple[str, ...]] = set()
    for w in words:
        if len(w) <= MAX_SPAN_WORDS:
            contained.update(s for s in _spans(w, strict=True) if s in present)
    return [i for i, w in enumerate(words) if w not in contained and w]


def sentence_holdout(
    texts: list[str], labels: list[int], fraction: float, seed: int
) -> tuple[list[int], list[int], int]:
    """Split row indices into (train, validation, dropped): validation draws
    ``fraction`` of all rows, stratified by label, from sentence rows only; training loses the
    rows that are word spans of a validation sentence (their count is returned)."""
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = {}
    for i in sentence_rows(texts):
        by_class.setdefault(labels[i], []).append(i)
    total = {y: labels.count(y) for y in set(labels)}
    eval_idx: list[int] = []
    for y, rows in sorted(by_class.items()):
        rng.shuffle(rows)
        eval_idx += rows[: min(len(rows), max(1, round(total[y] * fraction)))]
    held: set[tuple[str, ...]] = set()
    for i in eval_idx:
        w = _words(texts[i])
        held.update(_spans(w, strict=False) if len(w) <= MAX_SPAN_WORDS else [w])
    chosen = set(eval_idx)
    train_idx, dropped = [], 0
    for i, t in enumerate(texts):
        if i in chosen:
            continue
        if _words(t) in held:
            dropped += 1
        else:
            train_idx.append(i)
    log.info(
        "sentence holdout: %d validation sentences, %d training rows dropped as their parts",
        len(eval_idx),
        dropped,
    )
    return train_idx, sorted(eval_idx), dropped
