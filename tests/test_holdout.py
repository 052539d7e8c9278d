"""Sentence holdout: validation sentences never leak into training through their phrases."""

from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.data import load_training_data
from sentiscore.trainer.holdout import sentence_holdout, sentence_rows

SENTENCES = [
    ("a gorgeous , witty film with a heart", 1),
    ("the plot is a mess and the acting is worse", 0),
    ("an utterly charming movie for the whole family", 1),
    ("dull , lifeless and far too long", 0),
]
PHRASES = [
    ("a gorgeous , witty film", 1),
    ("witty", 1),
    ("the plot is a mess", 0),
    ("the acting is worse", 0),
    ("utterly charming", 1),
    ("far too long", 0),
    ("lifeless", 0),
]


def test_sentence_rows_are_the_rows_not_inside_another():
    texts = [t for t, _ in SENTENCES + PHRASES]
    assert sorted(sentence_rows(texts)) == [0, 1, 2, 3]


def test_holdout_drops_the_parts_of_validation_sentences():
    rows = SENTENCES + PHRASES
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    train_idx, eval_idx, dropped = sentence_holdout(texts, labels, 0.1, seed=0)
    assert len(eval_idx) == 2 and all(i < 4 for i in eval_idx)  # one sentence per class
    assert {labels[i] for i in eval_idx} == {0, 1}
    held = " | ".join(texts[i] for i in eval_idx)
    kept = [texts[i] for i in train_idx]
    assert not any(k in held for k in kept), (held, kept)
    assert dropped == len(rows) - len(train_idx) - len(eval_idx) > 0


def test_train_config_holdout_sentences(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = SENTENCES * 3 + PHRASES
    path = tmp_path / "phr.parquet"
    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": [y for _, y in rows]}), path)
    cfg = TrainConfig(
        model="-",
        data=str(path),
        output=str(tmp_path),
        holdout="sentences",
        validation_fraction=0.2,
    )
    data = load_training_data(cfg)
    assert set(data.eval.texts) <= {t for t, _ in SENTENCES}
    assert not set(data.eval.texts) & set(data.train.texts)
