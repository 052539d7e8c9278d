"""ExportConfig: every option of ``sentiscore export``, one documented dataclass validated on
construction. The CLI maps its options onto it one to one; ``export_model`` takes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sentiscore.choices import (
    BUNDLE_PRECISIONS,
    INT8_ACTIVATIONS,
    INT8_GELUS,
    MAX_LENGTH_RANGE,
    OPTIMIZE_LEVELS,
    TRUNCATIONS,
    WEIGHT_TYPES,
    listed,
)
from sentiscore.errors import ConfigError

PRECISIONS = BUNDLE_PRECISIONS


@dataclass
class ExportConfig:
    """Options for turning a HF sequence classifier into a sentiscore bundle.

    precision: variants to write; fp32 is always built (the others derive from it). int8 is
        dynamic int8 with per-row activation scales (ONNX Runtime); int8-static is a QDQ graph
        with activation scales calibrated at export (``static_int8.py``; OpenVINO runs it with
        integer kernels), kept within the gate by accuracy control; fp16 is for CUDA.
    opset: ONNX opset. optimize: O1 = ORT basic optimisations only (no offline fusion);
        O2 = transformer fusions (attention, layer norm, GELU, skip-layer-norm);
        O3 = O2 + GELU approximation.
    cls_tail: compute the layers after the last attention for the [CLS] position only
        (``cls_tail.py``; same logits, ~15 % less work for a 6-layer [CLS] classifier).
        Mean-pooled models are left as they are.
    split_skip_layernorm: in the CPU variants (fp32, int8), leave residual add + layer norm
        unfused (ORT's ``FusionOptions.enable_skip_layer_norm = False``): same arithmetic, and
        ORT's CPU kernels for Add + LayerNormalization run ~4x faster than its fused
        SkipLayerNormalization (~10 % of a pass on short sentences). fp16 (CUDA) keeps it fused.
    max_length / truncation / head_fraction: the tokenisation policy the bundle states;
        None takes the training run's (model/sentiscore_train.json), else the model's limit / head.
    validate_with: Parquet/CSV/JSONL used for parity (else a built-in sample of varied lengths).
    text_column / label_column: columns in ``validate_with`` (text: detected as ``score`` does when
    None); labels enable accuracy gates.
    samples: validation rows used. calibrate: fit a softmax temperature (needs labels).
    calibration_rows: rows int8-static's activation ranges are measured on (NNCF's default
        300; more rows, steadier ranges, longer export): the first rows of ``calibration_data``,
        else of the validation rows (at most ``samples``).
    calibration_data: Parquet/CSV/JSONL whose texts (``text_column``, else detected) int8-static
        is calibrated on instead of the validation rows, e.g. a training sample that holds the
        kinds of text the model will score (short phrases as well as long reviews): ranges
        measured only on long texts can misread short ones. Labels are not needed.
    static_keep: fnmatch patterns of node names in the exported graph (before fusion, e.g.
        ``/bert/encoder/layer.0/*``) whose MatMul/Gemm int8-static leaves in fp32, on top of
        what accuracy control keeps; the manifest's ``kept_layers`` lists them.
    per_channel / weight_type / reduce_range / exclude_nodes: dynamic int8 settings
        (QInt8 per-channel without reduce_range is the fastest and most accurate on AVX2
        CPUs without VNNI: benchmarks/results/int8_options.md).
    int8_gelu: GELU of the int8 variant: "tanh" = ORT's FastGelu approximation (fp32 logits
        move by ~0.01 on MiniLM, far less than int8 itself moves them; ~3 % faster on short
        sentences), "erf" = exact. fp32 and fp16 keep the exact GELU (unless --optimize O3,
        which approximates it in every variant).
    int8_activations: how int8 quantises activations at run time. "per-row" (default): one
        scale per token of each row (``rowquant.py``), so a row's probabilities do not depend on
        the rows it is batched with. "per-tensor": ONNX Runtime's stock dynamic int8, one scale
        per micro-batch; ~15 % faster but a row's scores change with its batch (up to 0.3 in
        probability on SST-2), so ``--precision auto`` never picks it: opt-in only.
    max_invariance_delta: gate for fp32 and per-row int8: max |delta probability| of a row
        scored alone vs in a batch of validation rows.
    max_drop: max int8 / int8-static accuracy drop in points (labels given);
        min_agreement_int8: their label agreement floor when no labels are given. A failing
        int8-static is rebuilt with its most sensitive layers kept in fp32 until it passes.
    force: keep variants that fail their gate, marked failed in sentiscore.json.
    """

    precision: tuple = ("fp32", "int8", "int8-static")
    opset: int = 17
    optimize: str = "O2"
    cls_tail: bool = True
    split_skip_layernorm: bool = True
    max_length: int | None = None
    truncation: str | None = None
    head_fraction: float | None = None
    validate_with: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    samples: int = 1000
    calibration_rows: int = 300
    calibration_data: str | None = None
    calibrate: bool = False
    static_keep: tuple = ()
    per_channel: bool = True
    weight_type: str = "qint8"
    reduce_range: bool = False
    exclude_nodes: tuple = ()
    int8_gelu: str = "tanh"
    int8_activations: str = "per-row"
    max_invariance_delta: float = 1e-3
    max_drop: float = 0.5
    min_agreement_fp32: float = 0.999
    max_delta_fp32: float = 1e-3
    min_agreement_int8: float = 0.98
    min_agreement_fp16: float = 0.99
    force: bool = False
    version: str = "1.0.0"

    def __post_init__(self):
        if isinstance(self.precision, str):
            self.precision = tuple(p.strip() for p in self.precision.split(",") if p.strip())
        bad = [p for p in self.precision if p not in PRECISIONS]
        if bad or not self.precision:
            raise ConfigError(
                f"--precision from {', '.join(PRECISIONS)}",
                repr(self.precision),
                "e.g. --precision fp32,int8",
            )
        if "fp32" not in self.precision:
            self.precision = ("fp32", *self.precision)
        if self.optimize not in OPTIMIZE_LEVELS:
            raise ConfigError(
                f"--optimize {listed(OPTIMIZE_LEVELS)}", repr(self.optimize), "pick one of those"
            )
        if self.truncation not in (None, *TRUNCATIONS):
            raise ConfigError(
                f"--truncation {listed(TRUNCATIONS)}", repr(self.truncation), "pick one of those"
            )
        if self.weight_type not in WEIGHT_TYPES:
            raise ConfigError(
                f"--weight-type {listed(WEIGHT_TYPES)}", repr(self.weight_type), "pick one of those"
            )
        if self.int8_gelu not in INT8_GELUS:
            raise ConfigError(
                f"--int8-gelu {listed(INT8_GELUS)}", repr(self.int8_gelu), "pick one of those"
            )
        if self.int8_activations not in INT8_ACTIVATIONS:
            raise ConfigError(
                f"--int8-activations {listed(INT8_ACTIVATIONS)}",
                repr(self.int8_activations),
                "pick one of those",
            )
        lo, hi = MAX_LENGTH_RANGE
        if self.max_length is not None and not lo <= self.max_length <= hi:
            raise ConfigError(
                f"--max-length between {lo} and {hi}", str(self.max_length), "fix the option"
            )
        if self.samples < 8:
            raise ConfigError("--samples >= 8", str(self.samples), "use more validation rows")
        if self.calibration_rows < 8:
            raise ConfigError(
                "--calibration-rows >= 8", str(self.calibration_rows), "use more rows"
            )
        if self.calibrate and not (self.validate_with and self.label_column):
            raise ConfigError(
                "--calibrate with labeled --validate-with data and --label-column",
                "no labeled data",
                "add both, or drop --calibrate",
            )
        self.exclude_nodes = tuple(self.exclude_nodes)
        self.static_keep = tuple(self.static_keep)
        self._check_static_options()

    def _check_static_options(self):
        """int8-static's own options are refused when int8-static is not built."""
        given = [
            opt
            for opt, value in (
                ("--calibration-data", self.calibration_data),
                ("--static-keep", self.static_keep),
            )
            if value
        ]
        if given and "int8-static" not in self.precision:
            raise ConfigError(
                f"int8-static among --precision when {' and '.join(given)} is given",
                f"--precision {','.join(self.precision)}",
                "add int8-static to --precision, or drop the option",
            )

    def as_dict(self) -> dict:
        return asdict(self)
