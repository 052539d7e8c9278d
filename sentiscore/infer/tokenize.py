"""Tokenisation with an explicit truncation policy, shared by trainer, export and infer.

Wraps a HF ``tokenizers.Tokenizer`` (from ``tokenizer.json``). Any padding or truncation the
file carries is switched off (all-MiniLM-L6-v2's pads to 128); this module applies the
bundle's own policy instead: ``head`` keeps the first tokens, ``head+tail`` keeps the first
``head_fraction`` of the budget and the end of the text. Special tokens ([CLS]/[SEP] or
<s>/</s>) are added around the kept content; special tokens typed in a text are read as text. Batching and padding belong to ``batching``.
"""

from __future__ import annotations

import re

import numpy as np

from sentiscore.choices import TRUNCATIONS
from sentiscore.errors import BundleError, ConfigError

DEFAULT_HEAD_FRACTION = 0.25  # Sun et al. 2019: head 128 + tail 382 of 510 worked best on IMDB.


def load_tokenizer(path: str):
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(path)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception
        raise BundleError(
            "A valid tokenizer.json",
            f"'{path}': {str(exc).splitlines()[0]}",
            "re-export the bundle",
        ) from exc
    return tok


def text_only(tok):
    """Switch off the file's padding and truncation, and read special tokens typed in a
    review ('[SEP]', '</s>') as plain text: only the post-processor adds real ones."""
    tok.no_padding()
    tok.no_truncation()
    tok.encode_special_tokens = True
    return tok


def copy_tokenizer(tok):
    """An independent copy of a ``tokenizers.Tokenizer`` (e.g. a HF fast tokenizer's backend),
    so switching its padding/truncation off does not change the original."""
    return tok.__class__.from_str(tok.to_str())


def _special_frame(tok) -> tuple[list[int], list[int]]:
    """Token ids the post-processor puts before and after a single sequence."""
    probe = "hello"
    bare = tok.encode(probe, add_special_tokens=False).ids
    full = tok.encode(probe, add_special_tokens=True).ids
    for i in range(len(full) - len(bare) + 1):
        if full[i : i + len(bare)] == bare:
            return full[:i], full[i + len(bare) :]
    return [], []


# Texts tokenised at once: their Encoding objects (tokens, offsets) are the large part.
ENCODE_SLICE = 256
# Texts up to this many characters are tokenised whole (clipping would not pay).
CLIP_MIN_CHARS = 4096
_WORD = re.compile(r"\S+")


def _end_of_word(text: str, n: int) -> int | None:
    """Index after the n-th word, or None when the text has at most n words."""
    for i, m in enumerate(_WORD.finditer(text), 1):
        if i == n:
            return m.end() if _WORD.search(text, m.end()) else None
    return None


def _start_of_tail(text: str, n: int, after: int) -> int | None:
    """Index of the whitespace before the n-th word from the end, when it lies after ``after``;
    else None (the tail would overlap the head)."""
    window = 64 * n
    while True:
        lo = max(after, len(text) - window)
        starts = [m.start() for m in _WORD.finditer(text, lo)]
        if lo > after and starts and starts[0] == lo:
            starts = starts[1:]  # the window may begin inside a word
        if len(starts) >= n:
            begin = starts[-n]
            while begin > after and text[begin - 1].isspace():
                begin -= 1
            return begin if begin > after else None
        if lo == after:
            return None
        window *= 4


class TextEncoder:
    """Turns texts into int64 id arrays of at most ``max_length`` tokens, unpadded."""

    def __init__(
        self,
        tokenizer,
        max_length: int,
        truncation: str = "head",
        head_fraction: float = DEFAULT_HEAD_FRACTION,
    ):
        if truncation not in TRUNCATIONS:
            raise ConfigError(
                "truncation to be 'head' or 'head+tail'", repr(truncation), "pick one of those"
            )
        self.tok = text_only(load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer)
        self.prefix, self.suffix = _special_frame(self.tok)
        self.max_length = int(max_length)
        self.budget = self.max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 2:
            raise ConfigError(
                "max_length to leave room for text after special tokens",
                f"max_length={max_length}",
                "use a larger max_length",
            )
        self.truncation = truncation
        self.head = max(1, int(round(self.budget * head_fraction)))
        self.pad_id = self._pad_id()

    def _pad_id(self) -> int:
        for name in ("[PAD]", "<pad>", "<|padding|>"):
            i = self.tok.token_to_id(name)
            if i is not None:
                return int(i)
        return 0

    def _cut(self, ids: list[int]) -> list[int]:
        if len(ids) <= self.budget:
            return ids
        if self.truncation == "head":
            return ids[: self.budget]
        tail = self.budget - self.head
        return ids[: self.head] + ids[len(ids) - tail :]

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Encode texts (all must be str) into id arrays with special tokens, truncated."""
        return self.encode_counted(texts)[0]

    def encode_counted(self, texts: list[str]) -> tuple[list[np.ndarray], int]:
        """``encode``, and how many of the texts were longer than ``max_length`` and cut.

        Texts are encoded ``ENCODE_SLICE`` at a time, and a text with more words than the
        budget has tokens is first clipped to the words the policy can keep (see ``clip``), so
        memory follows the token budget, not the length of the texts."""
        ids, cut, pre, suf = [], 0, self.prefix, self.suffix
        for start in range(0, len(texts), ENCODE_SLICE):
            part = [self.clip(t) for t in texts[start : start + ENCODE_SLICE]]
            for e in self.tok.encode_batch(part, add_special_tokens=False):
                cut += len(e.ids) > self.budget
                ids.append(np.asarray(pre + self._cut(e.ids) + suf, dtype=np.int64))
        return ids, cut

    def clip(self, text: str) -> str:
        """``text`` without the words truncation would drop anyway. Every whitespace-separated
        word gives at least one token and tokens never span whitespace, so keeping one word
        more than the budget at the head (and at the tail for head+tail), cut at whitespace
        with the original spacing, gives the same kept tokens and still reads as truncated."""
        if len(text) <= CLIP_MIN_CHARS:
            return text
        head = self.budget if self.truncation == "head" else self.head
        end = _end_of_word(text, head + 1)
        if end is None:
            return text  # too few words to drop any
        if self.truncation == "head":
            return text[:end]
        start = _start_of_tail(text, self.budget - self.head + 1, end)
        return text if start is None else text[:end] + text[start:]
