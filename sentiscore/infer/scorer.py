"""The Scorer: bundle + tokenizer + ORT session, and the pure ``score_batch`` function.

``Scorer.score_batch(RecordBatch) -> RecordBatch`` is the one place the model logic lives:
text checks (null / empty / non-string rows get an ``error``, never dropped), tokenisation,
length-bucketed micro-batches, ORT, softmax with the bundle's calibration (a temperature per
band of token length), input order restored, prediction columns appended. The file pipeline
(``files``) and the Ray / Spark adapters (``engines``) call it; reading and writing are theirs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sentiscore.calibration import Calibration
from sentiscore.choices import MAX_LENGTH_RANGE
from sentiscore.errors import BadRowError, BundleError, ConfigError, SentiscoreError, first_line
from sentiscore.infer.batching import iter_micro_batches
from sentiscore.infer.bundle import Bundle, load_bundle
from sentiscore.infer.config import check_run_options
from sentiscore.infer.precision import choose
from sentiscore.infer.rows import (
    assemble,
    check_columns,
    check_min_score,
    check_texts,
    repair_utf8,
    settle_prefix,
)
from sentiscore.infer.runners import make_runner
from sentiscore.infer.session import resolve_device
from sentiscore.infer.tokenize import TextEncoder

log = logging.getLogger(__name__)
# Precisions run by engines whose kernels sentiscore does not control: ``auto`` checks their row
# invariance at load (INVARIANCE_ROWS built-in texts) before using them.
PROBED = ("bf16", "int8-static", "int8-static-bf16")
INVARIANCE_ROWS = 64
INVARIANCE_TOLERANCE = 1e-3
# Per micro-batch. CPU runs two micro-batches at once (runner.CPU_STREAMS), so 2 x 4096 tokens
# are in flight: the memory of one 8192-token batch (512-token rows: ~200 MB of attention
# scores), and 4096 vs 8192 measured the same speed. CUDA fp16 on IMDB: 2.7x faster at 65536.
DEFAULT_MAX_TOKENS = {"cpu": 4096, "cuda": 65536}


@dataclass
class ScoreStats:
    rows: int = 0
    errors: int = 0
    real_tokens: int = 0
    computed_tokens: int = 0
    truncated: int = 0

    @property
    def padding_efficiency(self) -> float:
        return self.real_tokens / self.computed_tokens if self.computed_tokens else 1.0

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "errors": self.errors,
            "truncated": self.truncated,
            "tokens": self.real_tokens,
            "computed_tokens": self.computed_tokens,
            "padding_efficiency": round(self.padding_efficiency, 4),
        }


@dataclass
class Prepared:
    """A RecordBatch checked and tokenised, ready for ``Scorer.finish``."""

    batch: pa.RecordBatch
    keep: list[str]
    prefix: str
    valid: list[int]
    errors: list[str | None]
    ids: list[np.ndarray]
    truncated: int = 0


class Scorer:
    """A loaded model ready to score. Build it with ``Scorer.load``."""

    def __init__(
        self,
        bundle: Bundle,
        device: str,
        precision: str,
        threads: int | None = None,
        max_tokens: int | None = None,
        max_length: int | None = None,
        min_score: float | None = None,
        strip_html: bool = False,
    ):
        check_min_score(min_score)
        check_run_options(precision=precision, threads=threads, max_tokens=max_tokens)
        if max_length is not None and not MAX_LENGTH_RANGE[0] <= max_length <= bundle.max_length:
            raise ConfigError(
                f"--max-length between {MAX_LENGTH_RANGE[0]} and the bundle's max_length "
                f"({bundle.max_length})",
                str(max_length),
                "lower it, or drop it to keep the bundle's limit",
            )
        self.bundle = bundle
        self._start(device, precision, threads)
        self.max_length = max_length or bundle.max_length
        self.min_score = min_score
        self.strip_html = bool(strip_html)
        self.encoder = TextEncoder(
            bundle.tokenizer_path,
            self.max_length,
            bundle.truncation,
            bundle.meta.get("head_fraction", 0.25),
        )
        self.labels = bundle.labels
        self.calibration = bundle.calibration
        self.max_tokens = max(int(max_tokens or DEFAULT_MAX_TOKENS[self.device]), self.max_length)
        self.stats = ScoreStats()
        self._probe_model()
        if precision == "auto" and self.precision in PROBED:
            self._probe_or_fall_back(threads)
        log.info(
            "loaded %s (%s, %s, %s)",
            bundle.path,
            self.precision,
            self.device,
            self.calibration.describe(),
        )

    @property
    def temperature(self) -> float:
        """The temperature (the bundle's single one, or its middle band's)."""
        return self.calibration.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        """One temperature for every row from now on (1.0: raw model probabilities)."""
        self.calibration = Calibration((), (value,))

    def _start(self, device: str, precision: str, threads: int | None) -> None:
        """Device, variant and runner. ``--device auto`` takes CUDA only when it can really
        score there: a bundle without a CUDA variant, or a CUDA session that cannot start
        (missing CUDA/cuDNN libraries, a fallback to the CPU), scores on the CPU with a
        warning; ``--device cuda`` raises instead."""
        self.device = resolve_device(device)
        try:
            self.precision, self.model_path, why = choose(self.bundle, self.device, precision)
            self.runner = make_runner(self.precision, self.model_path, self.device, threads)
        except SentiscoreError as exc:
            if device != "auto" or self.device != "cuda":
                raise
            log.warning("device auto: not using CUDA (%s); scoring on the CPU", first_line(exc))
            self.device = "cpu"
            self.precision, self.model_path, why = choose(self.bundle, "cpu", precision)
            self.runner = make_runner(self.precision, self.model_path, "cpu", threads)
        if precision == "auto":
            log.info("precision auto on %s: %s", self.device, why)

    @classmethod
    def load(
        cls,
        bundle: str = "default",
        device: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
        max_tokens: int | None = None,
        verify: bool = True,
        max_length: int | None = None,
        min_score: float | None = None,
        strip_html: bool = False,
    ) -> Scorer:
        """Load a bundle directory (or 'default', the embedded model) for scoring.
        ``min_score``: rows whose top probability is below it get a null label and label_id
        (abstain) and keep their score and probabilities. ``strip_html``: remove HTML tags
        (IMDB's ``<br />``) and decode entities before scoring (``rows.strip_html``)."""
        b = load_bundle(bundle, verify=verify)
        return cls(b, device, precision, threads, max_tokens, max_length, min_score, strip_html)

    def _probe_model(self) -> None:
        """Run one row of the bundle's max_length tokens: the model must accept it (its
        position limit) and return one logit per label of the manifest; and one row holding
        the tokenizer's highest id, which the model's vocabulary must hold."""
        enc, length = self.encoder, self.bundle.max_length
        word = enc.tok.encode("hello", add_special_tokens=False).ids[:1] or [enc.pad_id]
        body = word * (length - len(enc.prefix) - len(enc.suffix))
        row = np.asarray(enc.prefix + body + enc.suffix, dtype=np.int64)[None, :]
        try:
            logits = self.runner.run(row, np.ones_like(row))
        except Exception as exc:  # noqa: BLE001 - engines raise their own types
            raise BundleError(
                f"A model that takes the manifest's max_length ({length} tokens)",
                f"{self.model_path} fails on it: {first_line(exc, 160)}",
                "re-export the bundle with a max_length within the model's position limit",
            ) from None
        self._probe_vocabulary()
        if logits.ndim != 2 or logits.shape[1] != len(self.bundle.labels):
            raise BundleError(
                "One model output per label in the manifest",
                f"{len(self.bundle.labels)} labels {self.bundle.labels} but outputs of shape "
                f"{tuple(logits.shape)} from {self.model_path}",
                "re-export the bundle (labels and model must come from the same run)",
            )

    def _probe_vocabulary(self) -> None:
        """Every id the tokenizer can give must be a row of the model's embeddings: ONNX
        Runtime fails on one beyond them, OpenVINO tells its table's size."""
        enc = self.encoder
        top = max(enc.tok.get_vocab(with_added_tokens=True).values())
        highest = np.asarray(enc.prefix + [top] + enc.suffix, dtype=np.int64)[None, :]
        size = getattr(self.runner, "vocab_size", None)
        problem = f"its embeddings have {size} rows" if size is not None and top >= size else None
        try:
            self.runner.run(highest, np.ones_like(highest))
        except Exception as exc:  # noqa: BLE001 - engines raise their own types
            problem = f"it fails on it: {first_line(exc, 160)}"
        if problem:
            raise BundleError(
                "A tokenizer whose ids the model's vocabulary holds",
                f"tokenizer.json gives ids up to {top}; {self.model_path}: {problem}",
                "re-export the bundle with the tokenizer of the model it was trained with",
            )

    def _probe_or_fall_back(self, threads: int | None) -> None:
        """Check row invariance of an engine whose kernels sentiscore does not control, on the
        built-in sample; if it fails, take auto's next choice."""
        from sentiscore.samples import builtin_sample

        check = self.invariance(builtin_sample(INVARIANCE_ROWS))
        self.stats = ScoreStats()
        if check["ok"]:
            return
        log.warning(
            "%s is not row-invariant on this machine (max |dp| %.1e, %d label flips alone vs "
            "batched); using auto's next choice",
            self.precision,
            check["max_dp"],
            check["flips"],
        )
        self.precision, self.model_path, why = choose(
            self.bundle, self.device, "auto", skip=(self.precision,)
        )
        log.info("precision auto on %s: %s", self.device, why)
        self.runner = make_runner(self.precision, self.model_path, self.device, threads)

    def invariance(self, texts: list[str]) -> dict:
        """Row invariance on ``texts``: max |dp| and label flips between scoring each text
        alone and all of them in batches; ok when within ``INVARIANCE_TOLERANCE``, no flips."""
        batched = self.probabilities(texts)
        alone = np.concatenate([self.probabilities([t]) for t in texts])
        delta = float(np.abs(batched - alone).max()) if len(texts) else 0.0
        flips = int((batched.argmax(1) != alone.argmax(1)).sum())
        return {
            "rows": len(texts),
            "max_dp": delta,
            "flips": flips,
            "ok": delta <= INVARIANCE_TOLERANCE and not flips,
        }

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Class probabilities (n, num_labels) for valid, non-empty strings."""
        return self.run_ids(self.encoder.encode(texts))

    def run_ids(self, ids: list[np.ndarray], on_rows=None) -> np.ndarray:
        """Class probabilities (n, num_labels) for encoded rows; ``on_rows(k)`` is called as
        each micro-batch of k rows completes (progress). A progress object that also has
        ``plan(rows, tokens)`` and ``worked(rows, tokens)`` is told the tokens instead, so
        that it can estimate time by tokens (the longest texts run first)."""
        probs = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        batches = iter_micro_batches(
            ids,
            self.max_tokens,
            self.encoder.pad_id,
            same_length=not self.runner.pads_exactly,
            max_width=self.max_length,
        )
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        by_tokens = hasattr(on_rows, "plan") and hasattr(on_rows, "worked")
        if by_tokens:
            on_rows.plan(len(ids), int(lengths.sum()))
        for mb, logits in self.runner.run_all(batches):
            cal = self.calibration.probabilities(logits, lengths[mb.rows])
            probs[mb.rows] = cal.astype(np.float32)
            self.stats.real_tokens += mb.real_tokens
            self.stats.computed_tokens += mb.computed_tokens
            if by_tokens:
                on_rows.worked(len(mb.rows), mb.real_tokens)
            elif on_rows is not None:
                on_rows(len(mb.rows))
        return probs

    def predict(self, texts: list[str] | str) -> list[dict]:
        """[{label, score, probs: {label: p}}] per text (a single string is one text, as in
        ``transformers.pipeline``); invalid texts get {error}."""
        if isinstance(texts, str):
            texts = [texts]
        batch = pa.record_batch({"text": pa.array(list(texts), type=pa.string())})
        out = self.score_batch(batch, keep_columns="none").to_pylist()
        results = []
        for row in out:
            if row["error"]:
                results.append({"label": None, "score": None, "probs": None, "error": row["error"]})
            else:
                results.append(
                    {
                        "label": row["label"],
                        "score": row["score"],
                        "probs": {lab: row[f"prob_{lab}"] for lab in self.labels},
                    }
                )
        return results

    def score_df(self, df, text_column: str = "text", keep_columns="all", prefix=None):
        """A pandas or polars DataFrame (or pyarrow Table) with the prediction columns
        appended, same rows and order, as ``score_batch`` (``frames.score_df``)."""
        from sentiscore.infer.frames import score_df

        return score_df(self, df, text_column, keep_columns, prefix)

    def check_columns(
        self, schema: pa.Schema, text_column: str = "text", keep_columns="all", prefix=None
    ) -> list[str]:
        """Validate the text column and name clashes; return the input columns to keep."""
        prefix = settle_prefix(schema.names, self.labels, keep_columns, prefix)
        return check_columns(schema, self.labels, text_column, keep_columns, prefix)

    def score_batch(
        self,
        batch: pa.RecordBatch,
        text_column: str = "text",
        keep_columns="all",
        prefix: str | None = None,
        strict: bool = False,
        row_offset: int = 0,
    ) -> pa.RecordBatch:
        """Score one RecordBatch; return kept input columns + prediction columns, same rows, same
        order. ``prefix``: of the prediction columns; None: ``rows.settle_prefix``'s rule."""
        return self.finish(
            self.prepare(batch, text_column, keep_columns, prefix, strict, row_offset)
        )

    def prepare(
        self,
        batch: pa.RecordBatch,
        text_column: str = "text",
        keep_columns="all",
        prefix: str | None = None,
        strict: bool = False,
        row_offset=0,
    ) -> Prepared:
        """The model-free half of ``score_batch``: column checks, text checks, tokenisation.
        The file pipeline runs it in its reader thread, overlapping ONNX Runtime.
        ``row_offset``: the batch's first row number, or a callable naming row i (for
        --strict errors)."""
        prefix = settle_prefix(batch.schema.names, self.labels, keep_columns, prefix)
        keep = check_columns(batch.schema, self.labels, text_column, keep_columns, prefix)
        batch, broken = repair_utf8(batch, text_column)
        texts, errors = check_texts(batch.column(text_column), self.strip_html)
        for i in broken:
            texts[i], errors[i] = None, "text is not valid UTF-8"
        if strict:
            bad = next((i for i, e in enumerate(errors) if e), None)
            if bad is not None:
                raise BadRowError(
                    "Every row to have non-empty string text (--strict)",
                    f"{_where(row_offset, bad)}: {errors[bad]}",
                    "fix the data or drop --strict to get an error column",
                )
        valid = [i for i, e in enumerate(errors) if e is None]
        ids, cut = self.encoder.encode_counted([texts[i] for i in valid])
        return Prepared(batch, keep, prefix, valid, errors, ids, cut)

    def finish(self, prep: Prepared, on_rows=None) -> pa.RecordBatch:
        """The model half of ``score_batch``: run, softmax, assemble the output batch;
        ``on_rows`` as in ``run_ids``."""
        valid, errors = prep.valid, prep.errors
        if prep.ids:
            probs = self.run_ids(prep.ids, on_rows)
            broken = ~np.isfinite(probs).all(axis=1)
            if broken.any():  # NaN or Inf out of the model: an error, never a label
                errors = list(errors)
                for i in np.flatnonzero(broken):
                    errors[valid[i]] = NOT_FINITE
                valid, probs = [v for v, b in zip(valid, broken) if not b], probs[~broken]
        else:
            probs = np.zeros((0, len(self.labels)), np.float32)
        n = prep.batch.num_rows
        self.stats.rows += n
        self.stats.errors += n - len(valid)
        self.stats.truncated += prep.truncated
        return assemble(
            prep.batch, prep.keep, prep.prefix, valid, probs, errors, self.labels, self.min_score
        )


NOT_FINITE = "model output is not finite (NaN or infinite logits)"


def _where(row_offset, row: int) -> str:
    if callable(row_offset):
        return row_offset(row)
    return f"row {row_offset + row + 1} (counting from 1, header excluded)"


def resolve_precision(bundle: str, device: str, precision: str, verify: bool = True) -> str:
    """The precision every worker of a distributed run loads: ``auto`` on the CPU decided
    once, on the driver, as a Scorer decides it (its invariance probe included), so that
    all workers score with one variant whatever their threads or machines."""
    if precision != "auto" or device != "cpu":
        return precision
    return Scorer.load(bundle, device="cpu", precision="auto", verify=verify).precision
