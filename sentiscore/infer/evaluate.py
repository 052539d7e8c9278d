"""evaluate_bundle(): score labeled data with a bundle and report accuracy, P/R/F1, ROC AUC,
confusion matrix and ECE, as metrics.json plus PNG plots.

Uses ``Scorer`` for predictions and ``sentiscore.metrics`` for the numbers (no sklearn), so
it runs on the CPU scorer install. metrics.json is always written; plots need matplotlib and
are skipped with one logged line when it is missing. Gold labels may be ids, the bundle's
label names, or other strings mapped by name or by ``label_map``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from sentiscore.choices import LABEL_NAMES, TEXT_NAMES
from sentiscore.errors import ConfigError, InputDataError, MissingDependencyError
from sentiscore.infer.config import check_run_options
from sentiscore.infer.scorer import Scorer
from sentiscore.io.columns import pick_column
from sentiscore.io.readers import discover_inputs, display_name, iter_batches, read_schema
from sentiscore.metrics import classification_report, sklearn_metrics

log = logging.getLogger(__name__)

PLOTS_HINT = "pip install matplotlib (or 'sentiscore[evaluate]'), or pass --no-plots"


@dataclass
class EvaluateConfig:
    """Options of ``sentiscore evaluate``.

    bundle: bundle directory or 'default'. data: labeled files/dirs/globs.
    text_column / label_column: columns in data (default: detected like ``train`` does).
        Labels may be ids, the bundle's label names, or strings that match one name (ignoring
        case, or as a prefix: 'neg' -> 'negative').
    label_map: gold value -> bundle label name or id, as a dict or 'neg=negative,pos=1'.
    output: directory for metrics.json and plots (default <bundle>/eval-<first data stem>,
        or ./eval-<stem> for the default bundle). limit: first N rows only.
    max_tokens: micro-batch token budget, as in ``score``. read_rows: rows read and scored
        at a time (memory); row-invariant variants give the same metrics for any values.
    max_length: lower the bundle's token limit (faster, maybe less accurate).
    strip_html: remove HTML tags and decode entities before scoring, as ``score --strip-html``.
    group_column: a column (domain, product category, ...) to report metrics per value of.
    verify: check the bundle's checksums (--no-verify turns it off).
    recalibrate: also fit a calibration (a temperature per token band, ``calibration.fit``)
        on these rows and write the bundle with it to this new directory
        (``recalibrate``); bundle_version: that bundle's version (default: '<version>+recalibrated').
    """

    bundle: str
    data: list
    text_column: str | None = None
    label_column: str | None = None
    label_map: dict | str | None = None
    output: str | None = None
    device: str = "auto"
    precision: str = "auto"
    limit: int | None = None
    plots: bool = True
    max_tokens: int | None = None
    read_rows: int = 4096
    max_length: int | None = None
    strip_html: bool = False
    group_column: str | None = None
    verify: bool = True
    recalibrate: str | None = None
    bundle_version: str | None = None

    def __post_init__(self):
        if isinstance(self.data, str):
            self.data = [self.data]
        if isinstance(self.label_map, str):
            self.label_map = parse_label_map(self.label_map)
        if not self.data:
            raise ConfigError("DATA with labeled rows", "none", "pass a Parquet/CSV/JSONL file")
        if self.read_rows < 1:
            raise ConfigError(
                "--read-rows >= 1", str(self.read_rows), "drop it or give a positive number"
            )
        check_run_options(
            self.device,
            self.precision,
            max_tokens=self.max_tokens,
            max_length=self.max_length,
            limit=self.limit,
        )


# A --label-map target that leaves the row out of the metrics (a 3-star review, say).
DROP = "drop"


def parse_label_map(text: str) -> dict:
    """'neg=negative,pos=positive' -> {'neg': 'negative', 'pos': 'positive'}; integer ranges
    stand for each value: '1-2=negative,3=drop,4-5=positive' (``DROP`` leaves a row out)."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise ConfigError(
                "--label-map GOLD=LABEL[,GOLD=LABEL...]",
                repr(text),
                "e.g. neg=negative,pos=positive or 1-2=negative,3=drop,4-5=positive",
            )
        low, dash, high = key.partition("-")
        if dash and low.strip().isdigit() and high.strip().isdigit():
            keys = [str(k) for k in range(int(low), int(high) + 1)]
            if not keys:
                raise ConfigError("--label-map ranges LOW-HIGH with LOW <= HIGH", key, "swap them")
        else:
            keys = [key]
        out.update(dict.fromkeys(keys, value))
    return out


class LabelResolver:
    """Gold label value -> bundle label id: ``label_map`` first, then ids, exact names,
    names ignoring case, and unique prefixes ('neg' -> 'negative'); each new mapping of a
    string is logged once."""

    def __init__(self, labels: list[str], label_map: dict | None = None):
        self.labels = labels
        self.cache: dict = {}
        for gold, target in (label_map or {}).items():
            self.cache[str(gold)] = self._target(gold, target)

    def _target(self, gold, target) -> int:
        """A label id, or -1 for ``DROP``."""
        key = str(target)
        if key == DROP:
            return -1
        if key in self.labels:
            return self.labels.index(key)
        if key.isdigit() and int(key) < len(self.labels):
            return int(key)
        raise ConfigError(
            f"--label-map targets that are one of {self.labels} or ids 0..{len(self.labels) - 1}",
            f"{gold}={target}",
            "fix the map",
        )

    def _match(self, value: str) -> int | None:
        low = value.strip().lower()
        names = [n.lower() for n in self.labels]
        if low in names:
            return names.index(low)
        if low.isdigit() and int(low) < len(names):
            return int(low)
        hits = [i for i, n in enumerate(names) if low and (n.startswith(low) or low.startswith(n))]
        return hits[0] if len(hits) == 1 else None

    def __call__(self, value) -> int:
        key = value.item() if isinstance(value, np.generic) else value
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            hit = None
        elif str(key) in self.cache:  # map keys are text: 5 and "5" are the same star rating
            return self.cache[str(key)]
        elif isinstance(key, int):
            hit = key if 0 <= key < len(self.labels) else None
        else:
            hit = self._match(key)
            if hit is not None and key != self.labels[hit]:
                log.info("gold label %r read as '%s'", key, self.labels[hit])
        if hit is None:
            raise InputDataError(
                f"Gold labels that are ids 0..{len(self.labels) - 1} or match one of {self.labels}",
                repr(value),
                "pass --label-map VALUE=LABEL,... (e.g. neg=negative,pos=positive) "
                "or fix --label-column",
            )
        self.cache[str(key)] = hit
        return hit


def _columns(cfg: EvaluateConfig, files) -> tuple[str, str]:
    """The text and label columns, checked in every input before anything is scored."""
    text, label = cfg.text_column, cfg.label_column
    for inp in files:
        names = read_schema(inp).names
        text = pick_column(names, text, TEXT_NAMES, "text", "--text-column", where=inp.path)
        label = pick_column(names, label, LABEL_NAMES, "label", "--label-column", where=inp.path)
    return text, label


@dataclass
class _Scored:
    """What evaluation collects: per kept row its probabilities, gold id, text and group."""

    probs: list = field(default_factory=list)
    gold: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    lengths: list = field(default_factory=list)  # token count of each kept row
    skipped: int = 0
    dropped: int = 0


def _collect(cfg: EvaluateConfig, scorer: Scorer) -> _Scored:
    files = discover_inputs(cfg.data, text_column=cfg.text_column)
    text, label = _columns(cfg, files)
    for inp in files if cfg.group_column else ():
        names = read_schema(inp).names
        pick_column(names, cfg.group_column, (), "group", "--group-column", where=inp.path)
    gold, got, left = LabelResolver(scorer.labels, cfg.label_map), _Scored(), cfg.limit
    by_file = not cfg.group_column and len(files) > 1  # several files: metrics per file too
    for inp in files:
        for batch in iter_batches(inp, batch_rows=cfg.read_rows):
            if left is not None:
                batch = batch.slice(0, left)
                left -= batch.num_rows
            before = len(got.texts)
            _add(got, batch, scorer, gold, text, label, cfg.group_column)
            if by_file:
                got.groups += [display_name(inp.path)] * (len(got.texts) - before)
            if left == 0:
                break
        if left == 0:
            break
    if not got.gold or sum(len(g) for g in got.gold) == 0:
        raise InputDataError(
            "At least one scorable labeled row", "none", "check DATA and --text-column"
        )
    return got


def _add(got: _Scored, batch, scorer: Scorer, gold, text: str, label: str, group) -> None:
    prep = scorer.prepare(batch.select([text]), text, keep_columns="none")
    out = scorer.finish(prep)
    tokens = np.full(batch.num_rows, -1, np.int64)
    tokens[prep.valid] = [len(row) for row in prep.ids]
    ok = np.asarray([e is None for e in out.column("error").to_pylist()])
    got.skipped += int((~ok).sum())
    p = np.stack(
        [out.column(f"prob_{lab}").to_numpy(zero_copy_only=False) for lab in scorer.labels],
        axis=1,
    )
    values = batch.column(label).to_pylist()
    ids = np.asarray([gold(v) if good else -1 for v, good in zip(values, ok)], np.int64)
    kept = ok & (ids >= 0)  # --label-map ... =drop leaves a row out
    got.dropped += int((ok & (ids < 0)).sum())
    got.probs.append(p[kept])
    got.gold.append(ids[kept])
    got.lengths.append(tokens[kept])
    keep = np.flatnonzero(kept)
    texts = batch.column(text).to_pylist()
    got.texts += [texts[i] for i in keep]
    if group:
        values = batch.column(group).to_pylist()
        got.groups += [str(values[i]) for i in keep]


def _per_group(got: _Scored, probs: np.ndarray, y: np.ndarray, labels: list) -> dict:
    """Metrics per value of --group-column (or per input file), in order of first appearance."""
    groups = np.asarray(got.groups)
    report = {}
    for g in dict.fromkeys(got.groups):
        rows = groups == g
        report[g] = classification_report(y[rows], probs[rows], labels)
    return report


def _write_errors(got: _Scored, probs: np.ndarray, y: np.ndarray, labels: list, out: str) -> dict:
    """The misclassified rows, with text, gold and predicted labels and probabilities, as
    ``errors.parquet`` in ``out``; returns where and how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    cols = {
        "text": pa.array([got.texts[i] for i in wrong], pa.string()),
        "gold": pa.array([labels[y[i]] for i in wrong], pa.string()),
        "predicted": pa.array([labels[pred[i]] for i in wrong], pa.string()),
        "score": pa.array(probs[wrong].max(axis=1) if len(wrong) else [], pa.float32()),
    }
    cols.update(
        {f"prob_{lab}": pa.array(probs[wrong, j], pa.float32()) for j, lab in enumerate(labels)}
    )
    if got.groups:
        cols["group"] = pa.array([got.groups[i] for i in wrong], pa.string())
    path = os.path.join(out, "errors.parquet")
    pq.write_table(pa.table(cols), path)
    return {"errors_file": path, "errors": int(len(wrong))}


def _plots(y: np.ndarray, probs: np.ndarray, metrics: dict, out: str) -> tuple[list, str | None]:
    """(plot paths, None), or ([], why not) when matplotlib is missing."""
    try:
        from sentiscore.plots import evaluation_plots

        return evaluation_plots(y, probs, metrics, out), None
    except MissingDependencyError:
        return [], f"plots skipped: matplotlib is not installed ({PLOTS_HINT})"


def evaluate_bundle(cfg: EvaluateConfig, scorer: Scorer | None = None) -> dict:
    """Evaluate; write metrics.json (+ plots) into the output directory; return the report."""
    sklearn_metrics()  # the evaluate extra, before anything is scored
    scorer = scorer or Scorer.load(
        cfg.bundle,
        device=cfg.device,
        precision=cfg.precision,
        max_tokens=cfg.max_tokens,
        max_length=cfg.max_length,
        verify=cfg.verify,
        strip_html=cfg.strip_html,
    )
    if cfg.recalibrate:
        from sentiscore.infer.recalibrate import check_out

        check_out(cfg.recalibrate, scorer.bundle.path)
    start = time.perf_counter()
    got = _collect(cfg, scorer)
    probs, y = np.concatenate(got.probs), np.concatenate(got.gold)
    skipped, dropped = got.skipped, got.dropped
    seconds = time.perf_counter() - start
    metrics = classification_report(y, probs, scorer.labels)
    stem = discover_inputs(cfg.data)[0].stem
    out = cfg.output or (
        os.path.join(scorer.bundle.path, f"eval-{stem}")
        if cfg.bundle != "default"
        else f"eval-{stem}"
    )
    os.makedirs(out, exist_ok=True)
    report = {
        "bundle": scorer.bundle.name,
        "bundle_version": scorer.bundle.meta.get("version"),
        "data": list(cfg.data),
        "device": scorer.device,
        "precision": scorer.precision,
        "temperature": scorer.temperature,
        "rows_skipped_bad_text": skipped,
        "rows_dropped_by_label_map": dropped,
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(y) / seconds, 2) if seconds else None,
        "padding_efficiency": round(scorer.stats.padding_efficiency, 4),
        "metrics": metrics,
        "output": out,
        "max_length": scorer.max_length,
        "rows_truncated": scorer.stats.truncated,
        **_write_errors(got, probs, y, scorer.labels, out),
        **({"groups": _per_group(got, probs, y, scorer.labels)} if got.groups else {}),
        "config": asdict(cfg),
    }
    if cfg.recalibrate:
        from sentiscore.infer.recalibrate import recalibrate

        lengths = np.concatenate(got.lengths)
        report["recalibrated"] = recalibrate(scorer, probs, y, lengths, got.groups, cfg)
    path = os.path.join(out, "metrics.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    if cfg.plots:
        report["plots"], report["plots_skipped"] = _plots(y, probs, metrics, out)
        if report["plots_skipped"]:
            log.warning("%s", report["plots_skipped"])
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report
