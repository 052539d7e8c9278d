"""Training data: load hub datasets or local files, detect columns, map labels, split.

Returns plain (texts, label ids) per split plus the label names. Tokenisation and the HF
Trainer are ``run``'s business. Rows with null/empty text are removed with a logged count
(training cannot use them); everything else that is wrong is a one-line ``TrainingError``.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from sentiscore.choices import LABEL_NAMES, TEXT_NAMES
from sentiscore.errors import InputDataError, TrainingError, first_line
from sentiscore.io.columns import pick_column
from sentiscore.modeling.hub import offline_mode
from sentiscore.trainer.config import TrainConfig
from sentiscore.trainer.holdout import sentence_holdout

log = logging.getLogger(__name__)
HUB_ALIASES = {
    "sst2": ("glue", "sst2"),
    "glue/sst2": ("glue", "sst2"),
    "sst-2": ("glue", "sst2"),
    "imdb": ("imdb", None),
    "amazon_polarity": ("amazon_polarity", None),
    "yelp_polarity": ("yelp_polarity", None),
}


@dataclass
class Split:
    texts: list[str]
    labels: list  # raw labels until mapped, then ints


@dataclass
class TrainData:
    train: Split
    eval: Split
    label_names: list[str]


def _is_local(spec: str) -> bool:
    import os

    from sentiscore.io.readers import detect_format

    return (
        os.path.exists(spec)
        or any(c in spec for c in "*?[")
        or detect_format(spec) is not None
        or spec.startswith(("s3://", "gs://", "file://"))
    )


def _pick(names: list[str], wanted: str | None, candidates: tuple, what: str, option: str) -> str:
    return pick_column(names, wanted, candidates, what, option, TrainingError)


def _from_table_columns(columns: dict, cfg: TrainConfig) -> Split:
    names = list(columns)
    tcol = _pick(names, cfg.text_column, TEXT_NAMES, "text", "--text-column")
    lcol = _pick(names, cfg.label_column, LABEL_NAMES, "label", "--label-column")
    return Split(list(columns[tcol]), list(columns[lcol]))


def _load_local(specs: list[str], cfg: TrainConfig) -> Split:
    from sentiscore.io.readers import discover_inputs, iter_batches

    texts, labels = [], []
    try:
        files = discover_inputs(specs)
    except InputDataError as exc:
        raise TrainingError(str(exc)) from exc
    for inp in files:
        cols: dict = {}
        for batch in iter_batches(inp, batch_rows=65536):
            for name in batch.schema.names:
                cols.setdefault(name, []).extend(batch.column(name).to_pylist())
        if not cols:
            continue
        part = _from_table_columns(cols, cfg)
        texts += part.texts
        labels += part.labels
    return Split(texts, labels)


def _load_hub(spec: str, split: str, cfg: TrainConfig) -> tuple[Split, list[str] | None]:
    offline = offline_mode()  # before datasets is imported: it reads the mode at import
    try:
        import datasets
    except ImportError as exc:
        raise TrainingError(
            "The 'datasets' package for hub datasets",
            "it is not installed",
            "pip install 'sentiscore[train]'",
        ) from exc
    name, sub = HUB_ALIASES.get(spec.lower(), (spec, None))
    try:
        ds = datasets.load_dataset(name, sub, split=split)
    except Exception as exc:  # noqa: BLE001 - hub errors come in many types
        first = first_line(exc, 200)
        raise TrainingError(
            f"Hub dataset '{spec}' split '{split}' to load",
            f"the hub is not reachable ({offline}) and it is not in the local cache"
            if offline
            else first,
            "pass local files instead, e.g. --data train.parquet [--eval-data test.parquet] "
            "(Parquet/CSV/JSONL with text and label columns)"
            if offline
            else "check the name and your network, or pass local files (Parquet/CSV/JSONL)",
        ) from exc
    part = _from_table_columns({c: ds[c] for c in ds.column_names}, cfg)
    feat = ds.features.get(
        cfg.label_column or _pick(ds.column_names, None, LABEL_NAMES, "label", "--label-column")
    )
    return part, list(feat.names) if hasattr(feat, "names") else None


def _clean(split: Split, where: str) -> Split:
    keep = [
        i
        for i, (t, y) in enumerate(zip(split.texts, split.labels))
        if isinstance(t, str) and t.strip() and y is not None
    ]
    dropped = len(split.texts) - len(keep)
    if dropped:
        log.warning("%s: removed %d rows with null/empty text or null label", where, dropped)
    return Split([split.texts[i] for i in keep], [split.labels[i] for i in keep])


def map_labels(values: list, known_names: list[str] | None) -> tuple[list[int], list[str]]:
    """Map raw labels to ids 0..K-1. Ints 0..K-1 stay; other ints and strings are sorted."""
    uniq = sorted(set(values), key=lambda v: (str(type(v)), v))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in uniq) and uniq == list(
        range(len(uniq))
    ):
        k = len(uniq)
        if known_names and len(known_names) >= k:
            return list(values), list(known_names)
        return list(values), ["negative", "positive"] if k == 2 else [str(i) for i in range(k)]
    names = [str(v) for v in uniq]
    index = {v: i for i, v in enumerate(uniq)}
    return [index[v] for v in values], names


def _subset(split: Split, n: int | None, seed: int) -> Split:
    if n is None or n >= len(split.texts):
        return split
    return _rows(split, sorted(random.Random(seed).sample(range(len(split.texts)), n)))


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    rng = random.Random(seed)
    by_class: dict = {}
    for i, y in enumerate(split.labels):
        by_class.setdefault(y, []).append(i)
    train_idx, eval_idx = [], []
    for rows in by_class.values():
        rng.shuffle(rows)
        k = max(1, int(round(len(rows) * fraction))) if len(rows) > 1 else 0
        eval_idx += rows[:k]
        train_idx += rows[k:]
    return _rows(split, sorted(train_idx)), _rows(split, sorted(eval_idx))


def _rows(split: Split, idx: list[int]) -> Split:
    return Split([split.texts[i] for i in idx], [split.labels[i] for i in idx])


def _sentence_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    train_idx, eval_idx, _ = sentence_holdout(split.texts, split.labels, fraction, seed)
    return _rows(split, train_idx), _rows(split, eval_idx)


def _load(specs: list[str], split: str, cfg: TrainConfig) -> tuple[Split, list[str] | None]:
    local = [s for s in specs if _is_local(s)]
    if local and len(local) != len(specs):
        raise TrainingError(
            "--data to be all local files or all hub datasets", f"{specs}", "use one kind per run"
        )
    if local:
        return _load_local(local, cfg), None
    parts, names = [], None
    for spec in specs:
        part, names = _load_hub(spec, split, cfg)
        parts.append(part)
    return Split(sum((p.texts for p in parts), []), sum((p.labels for p in parts), [])), names


def _hub_eval_split(spec: str) -> str | None:
    name = HUB_ALIASES.get(spec.lower(), (spec, None))
    return {
        "glue": "validation",
        "imdb": "test",
        "amazon_polarity": "test",
        "yelp_polarity": "test",
    }.get(name[0])


def load_training_data(cfg: TrainConfig) -> TrainData:
    """Load, clean, label-map and split the data described by ``cfg``."""
    train, names = _load(cfg.data, cfg.train_split, cfg)
    train = _clean(train, "train")
    if not train.texts:
        raise TrainingError(
            "Training data with at least one labeled row",
            "0 usable rows",
            "check --data and the text/label columns",
        )
    eval_split = None
    if cfg.eval_data:
        eval_split = _clean(_load(cfg.eval_data, cfg.eval_split or "validation", cfg)[0], "eval")
    elif cfg.eval_split or (
        not _is_local(cfg.data[0]) and len(cfg.data) == 1 and _hub_eval_split(cfg.data[0])
    ):
        eval_split = _clean(
            _load(cfg.data, cfg.eval_split or _hub_eval_split(cfg.data[0]), cfg)[0], "eval"
        )
    all_ids, label_names = map_labels(
        train.labels + (eval_split.labels if eval_split else []), names
    )
    train = Split(train.texts, all_ids[: len(train.texts)])
    if len(set(train.labels)) < 2:
        raise TrainingError(
            "At least two classes in the training labels",
            f"only {label_names}",
            "check --label-column and the data",
        )
    if eval_split is None and cfg.holdout == "sentences":
        train, eval_split = _sentence_split(train, cfg.validation_fraction, cfg.seed)
    elif eval_split is None:
        train, eval_split = stratified_split(train, cfg.validation_fraction, cfg.seed)
    else:
        eval_split = Split(eval_split.texts, all_ids[len(train.texts) :])
    train = _subset(train, cfg.max_train_samples, cfg.seed)
    eval_split = _subset(eval_split, cfg.max_eval_samples, cfg.seed)
    if not eval_split.texts:
        raise TrainingError(
            "A non-empty evaluation split", "0 rows", "add data or lower --validation-fraction"
        )
    log.info(
        "data: %d train rows, %d eval rows, labels %s",
        len(train.texts),
        len(eval_split.texts),
        label_names,
    )
    return TrainData(train, eval_split, label_names)
