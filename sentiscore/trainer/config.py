"""TrainConfig: every option of ``sentiscore train``, one documented dataclass validated on
construction. Defaults follow the notebook recipes (lr 2e-5, batch 16, 3 epochs, weight decay
0.01). The CLI maps its options onto it one to one; ``train`` takes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sentiscore.choices import (
    HOLDOUTS,
    MAX_LENGTH_RANGE,
    POOLINGS,
    SCHEDULERS,
    TRAIN_PRECISIONS,
    TRUNCATIONS,
    listed,
)
from sentiscore.errors import ConfigError

# Metrics a checkpoint or a search trial can be chosen by, and whether greater is better.
METRICS = {"accuracy": True, "f1_macro": True, "ece": False, "loss": False}


@dataclass
class TrainConfig:
    """Options for fine-tuning a sequence classifier.

    model: hub id or local directory of a Hugging Face encoder.
    data: one or more dataset specs: a hub name (imdb, sst2, glue/sst2, amazon_polarity, ...)
        or local Parquet/CSV/JSONL files, directories or globs. Several specs are concatenated.
    output: the run directory (model/, metrics.json, plots/, predictions.parquet, README.md).
    eval_data: optional separate evaluation data (spec like ``data``).
    text_column / label_column: None detects common names.
    train_split / eval_split: hub split names; eval_split None uses validation/test when the
        dataset has one, else ``validation_fraction`` of train (stratified, seeded).
    holdout: how that validation split is carved: ``rows`` (random rows) or ``sentences``
        (for phrase-level data such as SST-2: whole sentences, with every training row that is
        part of one dropped, so validation measures unseen sentences; see ``holdout``).
    max_train_samples / max_eval_samples: subset sizes (seeded random subset).
    max_length: None = p95 of training token lengths, capped by the model (<= 512).
    truncation: head, or head+tail (keeps the start and the end of long texts).
    layer_decay: layer-wise learning-rate decay; the head trains at ``learning_rate``, each
        encoder layer below at this factor times the one above, embeddings last (1.0 = off).
    rdrop: R-Drop weight (Liang et al., 2021); > 0 runs each training batch twice (two dropout
        masks) and adds this times the symmetric KL divergence between the two predictions
        to their cross-entropy. About 1.6x the time per step on a CPU. 0 = off.
    pooling: how the classifier reads the encoder: ``cls`` (the [CLS] token, Hugging Face's
        default), ``mean`` (average of the token vectors; BERT-type models) or ``auto`` (what
        a sentiscore-trained checkpoint recorded, else cls). See ``pooling``.
    precision: auto (bf16/fp16 on GPU; on a CPU bf16 where it is native, else fp32), fp32,
        bf16 (GPU, or a CPU with AVX-512 BF16 or AMX: autocast over fp32 weights, ~1.5x faster
        steps at the same accuracy) or fp16 (GPU).
    evals_per_epoch: how often the validation split is scored and a checkpoint saved: once
        per epoch (1), or N times per epoch, so that the kept best checkpoint can fall between
        epochs (useful when one epoch is long, or when validation peaks mid-schedule).
    early_stopping_patience: epochs without improvement of ``metric_for_best`` before stopping;
        the best checkpoint is always the one kept.
    search_trials: >0 runs a random search over ``search_space`` and keeps the best trial.
    export: also write a sentiscore bundle (int8 + calibrated temperature) to RUN_DIR/bundle.
    """

    model: str
    data: list[str]
    output: str
    eval_data: list[str] | None = None
    text_column: str | None = None
    label_column: str | None = None
    train_split: str = "train"
    eval_split: str | None = None
    validation_fraction: float = 0.1
    holdout: str = "rows"
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    learning_rate: float = 2e-5
    batch_size: int = 16
    eval_batch_size: int = 64
    epochs: float = 3.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    scheduler: str = "linear"
    grad_accum: int = 1
    max_length: int | None = None
    truncation: str = "head"
    head_fraction: float = 0.25
    label_smoothing: float = 0.0
    layer_decay: float = 1.0
    rdrop: float = 0.0
    pooling: str = "auto"
    class_weights: bool = False
    seed: int = 42
    evals_per_epoch: int = 1
    early_stopping_patience: int | None = None
    metric_for_best: str = "accuracy"
    gradient_checkpointing: bool = False
    precision: str = "auto"
    resume: bool = False
    search_trials: int = 0
    search_space: dict = field(
        default_factory=lambda: {
            "learning_rate": [1e-5, 2e-5, 3e-5, 5e-5],
            "batch_size": [16, 32],
            "epochs": [2, 3, 4],
        }
    )
    export: bool = False
    logging_steps: int = 50
    keep_checkpoints: bool = False
    progress: bool = False

    def __post_init__(self):
        self._normalise_data()
        for ok, expected, found in self._range_checks():
            if not ok:
                raise ConfigError(expected, repr(found), "fix the option")
        for name in ("max_train_samples", "max_eval_samples", "early_stopping_patience"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(
                    f"--{name.replace('_', '-')} >= 1",
                    str(value),
                    "drop it or give a positive number",
                )

    def _normalise_data(self) -> None:
        """Accept one spec as a string; refuse an empty --data."""
        if isinstance(self.data, str):
            self.data = [self.data]
        if isinstance(self.eval_data, str):
            self.eval_data = [self.eval_data]
        if not self.data:
            raise ConfigError(
                "--data with at least one dataset",
                "none",
                "pass --data imdb or --data reviews.parquet",
            )

    def _range_checks(self) -> list[tuple[bool, str, object]]:
        """(holds, what was expected, what was found) for every option with a fixed range."""
        return [
            (self.learning_rate > 0, "--lr > 0", self.learning_rate),
            (self.batch_size >= 1, "--batch-size >= 1", self.batch_size),
            (self.epochs > 0, "--epochs > 0", self.epochs),
            (
                0 < self.validation_fraction < 1,
                "--validation-fraction in (0, 1)",
                self.validation_fraction,
            ),
            (0 <= self.warmup_ratio < 1, "--warmup-ratio in [0, 1)", self.warmup_ratio),
            (0 <= self.label_smoothing < 1, "--label-smoothing in [0, 1)", self.label_smoothing),
            (0 < self.layer_decay <= 1, "--layer-decay in (0, 1]", self.layer_decay),
            (0 <= self.rdrop <= 100, "--rdrop in [0, 100]", self.rdrop),
            (self.grad_accum >= 1, "--grad-accum >= 1", self.grad_accum),
            (self.logging_steps >= 1, "--logging-steps >= 1", self.logging_steps),
            (
                self.scheduler in SCHEDULERS,
                "--scheduler linear, cosine or constant",
                self.scheduler,
            ),
            (
                self.pooling in POOLINGS,
                "--pooling auto, cls or mean",
                self.pooling,
            ),
            (
                self.holdout in HOLDOUTS,
                "--holdout rows or sentences",
                self.holdout,
            ),
            (
                self.truncation in TRUNCATIONS,
                f"--truncation {listed(TRUNCATIONS)}",
                self.truncation,
            ),
            (
                self.precision in TRAIN_PRECISIONS,
                f"--precision {listed(TRAIN_PRECISIONS)}",
                self.precision,
            ),
            (
                self.max_length is None
                or MAX_LENGTH_RANGE[0] <= self.max_length <= MAX_LENGTH_RANGE[1],
                "--max-length between {} and {}".format(*MAX_LENGTH_RANGE),
                self.max_length,
            ),
            (0 < self.head_fraction < 1, "head_fraction in (0, 1)", self.head_fraction),
            (self.search_trials >= 0, "--search >= 0", self.search_trials),
            (
                self.metric_name in METRICS,
                f"--metric-for-best one of {', '.join(METRICS)}",
                self.metric_for_best,
            ),
            (
                1 <= self.evals_per_epoch <= 100,
                "--evals-per-epoch in [1, 100]",
                self.evals_per_epoch,
            ),
        ]

    @property
    def metric_name(self) -> str:
        """``metric_for_best`` without the Trainer's ``eval_`` prefix."""
        return self.metric_for_best.removeprefix("eval_")

    @property
    def greater_is_better(self) -> bool:
        """Whether a higher ``metric_for_best`` is better (explicit per metric, not guessed)."""
        return METRICS[self.metric_name]

    def as_dict(self) -> dict:
        return asdict(self)
