"""The export's report: one parity result per variant, which failures fail the export and
which variants it goes on without, the table the CLI prints, and the calibration figures
(reference accuracy, temperature, ECE) added once every variant is measured. Measuring the
variants is ``parity``'s job, building them ``run``'s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from sentiscore import calibration
from sentiscore.calibration import Calibration
from sentiscore.metrics import ece, softmax

# The fast CPU variants: an export needs one of those it builds to pass, not all of them.
FAST_CPU = ("int8", "int8-static")


@dataclass
class ExportReport:
    bundle: str
    source_model: str
    validation: str
    rows: int
    fused_ops: dict
    variants: list = field(default_factory=list)
    calibration: Calibration = field(default_factory=Calibration)
    calibration_fit: dict | None = None  # cross-validated NLL of each banding tried
    reference_accuracy: float | None = None

    @property
    def temperature(self) -> float:
        """The manifest's single ``temperature`` (the middle band's, with bands)."""
        return self.calibration.temperature

    @property
    def failed(self) -> list[str]:
        return [v.precision for v in self.variants if v.status != "ok"]

    @property
    def fatal(self) -> list[str]:
        """The failures that fail the export: fp32's and fp16's, and the fast CPU variants'
        only when none of them passed (one is enough; a failed one is left out of the bundle
        and ``auto`` never takes it)."""
        fast = [v.precision for v in self.variants if v.precision in FAST_CPU]
        spare = set(fast) - set(self.failed)
        return [p for p in self.failed if p not in FAST_CPU or not spare]

    @property
    def left_out(self) -> list[str]:
        """Failed variants the export goes on without (see ``fatal``)."""
        return [p for p in self.failed if p not in self.fatal]

    def advice(self) -> str:
        return (
            "see export_report.json; for int8 try --exclude-nodes '*attention*' or a pattern of sensitive nodes, --per-channel, or --weight-type quint8; "
            "for fp32 check the opset (--opset), --optimize O1 and --no-cls-tail; --force keeps failed variants marked failed"
        )

    def table(self) -> str:
        head = f"{'variant':<12}{'status':<8}{'max|dl|':>10}{'mean|dl|':>10}{'agree':>8}{'acc':>8}{'ECE':>7}{'ECE@T':>7}{'MB':>8}{'ms/row':>9}{'row|dp|':>10}  device"
        lines = [
            f"bundle {self.bundle}  (validation: {self.validation}, {self.rows} rows, {self.calibration.describe()})",
            head,
        ]
        for v in self.variants:
            acc = f"{v.accuracy:.4f}" if v.accuracy is not None else "-"
            e = f"{v.ece_calibrated:.3f}" if v.ece_calibrated is not None else "-"
            raw = f"{v.ece:.3f}" if v.ece is not None else "-"
            inv = f"{v.invariance:.1e}" if v.invariance is not None else "-"
            lines.append(
                f"{v.precision:<12}{v.status:<8}{v.max_abs_delta:>10.2e}{v.mean_abs_delta:>10.2e}{v.agreement:>8.2%}{acc:>8}{raw:>7}{e:>7}{v.size_mb:>8.1f}{v.ms_per_row:>9.2f}{inv:>10}  {v.device}"
            )
            lines += [f"    failed: {r}" for r in v.reasons]
        if self.fused_ops:
            lines.append(
                "fused ops: " + ", ".join(f"{k}={n}" for k, n in sorted(self.fused_ops.items()))
            )
        return "\n".join(lines)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["temperature"] = self.temperature
        d["calibration"] = {"chosen": self.calibration.describe(), **d["calibration"]}
        for v in d["variants"]:
            v.pop("logits", None)
        return d


def calibrate_report(
    report: ExportReport, ref: np.ndarray, labels: np.ndarray | None, calibrate: bool, lengths
) -> None:
    """Reference accuracy, the calibration fitted on the reference logits (``calibrate``),
    and every variant's ECE before and after it; ``lengths``: the rows' token counts."""
    if labels is None:
        return
    report.reference_accuracy = float((ref.argmax(1) == labels).mean())
    if calibrate:
        report.calibration, report.calibration_fit = calibration.fit(ref, labels, lengths)
    for v in report.variants:
        v.ece = ece(softmax(v.logits), labels)
        v.ece_calibrated = ece(report.calibration.probabilities(v.logits, lengths), labels)
