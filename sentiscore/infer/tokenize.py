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

from sentiscore.choices import TRUNCATIONS, listed
from sentiscore.errors import BundleError, ConfigError, first_line

DEFAULT_HEAD_FRACTION = 0.25  # Sun et al. 2019: head 128 + tail 382 of 510 worked best on IMDB.


def load_tokenizer(path: str):
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(path)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception
        raise BundleError(
            "A valid tokenizer.json",
            f"'{path}': {first_line(exc)}",
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
# A text still longer than this after clipping is tokenised on its own.
LONG_CHARS = 1 << 16
_WORD = re.compile(r"\S+")
# The CJK ideographs BERT's normalizer puts spaces around (``handle_chinese_chars``): with
# such a tokenizer each is a word of its own, so text without spaces can be clipped too.
_CJK = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ceaf"
    "\U0002f800-\U0002fa1f"
)
_CJK_WORD = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")


def _splits_cjk(tok) -> bool:
    """Whether the tokenizer's normalizer puts spaces around CJK ideographs."""
    import json

    def found(node) -> bool:
        if isinstance(node, dict):
            if node.get("type") == "BertNormalizer" and node.get("handle_chinese_chars"):
                return True
            return any(found(v) for v in node.values())
        return isinstance(node, list) and any(found(v) for v in node)

    return found(json.loads(tok.to_str()).get("normalizer"))


def _end_of_word(text: str, n: int, word=_WORD) -> int | None:
    """Index after the n-th word, or None when the text has at most n words."""
    for i, m in enumerate(word.finditer(text), 1):
        if i == n:
            return m.end() if word.search(text, m.end()) else None
    return None


def _start_of_tail(text: str, n: int, after: int, word=_WORD) -> int | None:
    """Index of the whitespace before the n-th word from the end (of the word itself when
    none precedes it), when it lies after ``after``; else None (the tail would overlap the
    head)."""
    window = 64 * n
    while True:
        lo = max(after, len(text) - window)
        starts = [m.start() for m in word.finditer(text, lo)]
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
                f"truncation {listed(TRUNCATIONS)}", repr(truncation), "pick one of those"
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
        self._word = _CJK_WORD if _splits_cjk(self.tok) else _WORD

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
            for e in self._encodings(part):
                cut += len(e.ids) > self.budget
                ids.append(np.asarray(pre + self._cut(e.ids) + suf, dtype=np.int64))
        return ids, cut

    def _encodings(self, texts: list[str]):
        """Encodings of ``texts`` in order: short ones in one batch, and each text that
        clipping could not shorten (no whitespace to cut at, such as Chinese or Japanese)
        alone, so that at most one long text's tokens are in memory at a time."""
        long = [i for i, t in enumerate(texts) if len(t) > LONG_CHARS]
        if not long:
            yield from self.tok.encode_batch(texts, add_special_tokens=False)
            return
        short = iter(self.tok.encode_batch(
            [t for t in texts if len(t) <= LONG_CHARS], add_special_tokens=False
        ))  # fmt: skip
        for t in texts:
            yield (
                self.tok.encode(t, add_special_tokens=False) if len(t) > LONG_CHARS else next(short)
            )

    def clip(self, text: str) -> str:
        """``text`` without the words truncation would drop anyway. Every word (a run of
        non-space characters; also each CJK ideograph for a tokenizer that spaces them, as
        BERT's does) gives at least one token and tokens never span words, so keeping one
        word more than the budget at the head (and at the tail for head+tail), cut with the
        original spacing, gives the same kept tokens and still reads as truncated."""
        if len(text) <= CLIP_MIN_CHARS:
            return text
        head = self.budget if self.truncation == "head" else self.head
        end = _end_of_word(text, head + 1, self._word)
        if end is None:
            return text  # too few words to drop any
        if self.truncation == "head":
            return text[:end]
        start = _start_of_tail(text, self.budget - self.head + 1, end, self._word)
        if start is None:
            return text
        # the two parts stay separate words even where no space was between them
        gap = "" if text[end - 1].isspace() or text[start].isspace() else " "
        return text[:end] + gap + text[start:]
