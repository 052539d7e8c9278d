"""Long texts cost memory by the token budget, not by their length: clipping a text to the
words truncation keeps gives exactly the tokens of the whole text, for WordPiece and
byte-level BPE tokenizers, head and head+tail, and for Chinese and Japanese without spaces."""

import random

import numpy as np
import pytest

from sentiscore.infer import tokenize
from sentiscore.infer.bundle import default_bundle_dir

pytestmark = pytest.mark.light

WORDS = "the movie was great but\nterrible, really! 123 unbelievable co-operation naïve [SEP] ok"


def _texts():
    rng, words, out = random.Random(0), WORDS.split(" "), []
    for n in (1, 10, 500, 511, 512, 513, 1000, 5000, 30000):
        for sep in (" ", "\n", "  \t "):
            out.append(sep.join(rng.choice(words) for _ in range(n)))
    cjk = [chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(20_000)]
    mixed = rng.choices(["好的电影", "abc", "很差。", "これは映画です", "𠀀𠀁", " ", "x1"], k=8000)
    return (
        out
        + [
            "x" * 100_000,
            "a." * 50_000,
            "word " * 3000 + "\n\n" + "end " * 3000,
            "".join(cjk),  # Chinese without a single space
            "".join(mixed),  # CJK next to kana, Latin and digits, few spaces
            "".join(cjk[:3000]) + "tail" * 2000,
        ]
    )


def _byte_level_bpe(tmp_path) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>", "<s>", "</s>"])
    tok.train_from_iterator(_texts()[:12], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)]
    )
    path = str(tmp_path / "bpe.json")
    tok.save(path)
    return path


@pytest.mark.parametrize("kind", ["wordpiece", "byte-level-bpe"])
@pytest.mark.parametrize("truncation", ["head", "head+tail"])
@pytest.mark.parametrize("max_length", [32, 512])
def test_clipping_keeps_exactly_the_same_tokens(
    tmp_path, monkeypatch, kind, truncation, max_length
):
    path = (
        f"{default_bundle_dir()}/tokenizer.json"
        if kind == "wordpiece"
        else _byte_level_bpe(tmp_path)
    )
    enc = tokenize.TextEncoder(path, max_length, truncation)
    texts = _texts()
    clipped, cut = enc.encode_counted(texts)
    assert sum(len(enc.clip(t)) < len(t) for t in texts) >= 10  # clipping did happen
    monkeypatch.setattr(tokenize, "CLIP_MIN_CHARS", 10**12)  # never clip
    whole, cut_whole = enc.encode_counted(texts)
    assert cut == cut_whole
    assert all(np.array_equal(a, b) for a, b in zip(clipped, whole))


def test_a_megabyte_review_is_clipped_to_a_few_kilobytes():
    enc = tokenize.TextEncoder(f"{default_bundle_dir()}/tokenizer.json", 512, "head+tail")
    text = "good " * 200_000 + "bad " * 200_000
    assert len(text) > 1_000_000 and len(enc.clip(text)) < 10_000
    chinese = "".join(chr(0x4E00 + i % 20000) for i in range(350_000))  # one megabyte
    assert len(enc.clip(chinese)) < 1_000
