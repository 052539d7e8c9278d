"""Every closed set of option values, in one place: the config dataclasses validate against
these and the CLI offers them as choices, so the two cannot drift apart."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda")
# Numeric limits, one definition each. A bundle's max_length, and the --max-length that train
# and export accept, lie in MAX_LENGTH_RANGE; scoring may lower a bundle's limit to >= 8.
MAX_LENGTH_RANGE = (8, 8192)
MIN_MAX_TOKENS = 16  # the smallest --max-tokens (token budget per micro-batch)
ENGINES = ("local", "ray", "spark")
SCORE_PRECISIONS = (
    "auto",
    "fp32",
    "int8",
    "int8-static",
    "fp16",
    "bf16",
    "int8-static-bf16",
)  # for score/predict/evaluate/bench
# Precisions that OpenVINO runs with bf16 for every op that is not integer, on CPUs with native
# bf16 (AMX or AVX-512 BF16): bf16 is the fp32 graph so, int8-static-bf16 the int8-static graph
# (its integer matmuls unchanged, softmax, layer norm and GELU in bf16: SST-2 dev x6 on AMD EPYC
# with AVX-512 BF16, +8 % rows/s over int8-static, benchmarks/results/peers-user-amd-avx512.md).
BF16_PRECISIONS = ("bf16", "int8-static-bf16")
BUNDLE_PRECISIONS = ("fp32", "int8", "int8-static", "fp16")  # what export can build
TRAIN_PRECISIONS = ("auto", "fp32", "bf16", "fp16")
OUTPUT_FORMATS = ("parquet", "csv", "tsv", "jsonl")
INPUT_FORMATS = ("parquet", "csv", "tsv", "jsonl", "txt")  # txt: one text per line
TRUNCATIONS = ("head", "head+tail")
POOLINGS = ("auto", "cls", "mean")
SCHEDULERS = ("linear", "cosine", "constant")
HOLDOUTS = ("rows", "sentences")
OPTIMIZE_LEVELS = ("O1", "O2", "O3")
WEIGHT_TYPES = ("qint8", "quint8")
INT8_GELUS = ("tanh", "erf")
INT8_ACTIVATIONS = ("per-row", "per-tensor")


def listed(values) -> str:
    """'a, b or c': a choice list for an error message."""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


# Column names detected when --text-column / --label-column are not given, in order.
TEXT_NAMES = (
    *("text", "sentence", "review", "content", "review_text", "review_body", "reviewtext"),
    *("review_content", "reviews.text", "comment", "comment_text", "body", "document"),
)
LABEL_NAMES = (
    "label",
    "labels",
    "sentiment",
    "polarity",
    "stars",
    "star_rating",
    "rating",
    "score",
    "target",
)
