"""Recalibrate a bundle on labeled rows: ``sentiscore evaluate --recalibrate OUT``.

A user's reviews are often not the data a bundle was calibrated on (product sentences for a
model calibrated on film reviews). Given the probabilities ``evaluate`` scored and each row's
token count, this module recovers the logits (the bundle's own calibration undone), fits a
new ``calibration.Calibration`` (a temperature per token band, or one), writes a copy of the
bundle whose manifest carries it, and reports ECE before and after, overall and per group,
beside the ECE a perfectly calibrated model would show on as many rows. The model files are
copied unchanged (their checksums still hold). Scoring and metrics are ``evaluate``'s.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np

from sentiscore import calibration
from sentiscore.errors import ConfigError
from sentiscore.infer.manifest import MANIFEST
from sentiscore.io.uris import is_uri
from sentiscore.metrics import ece, ece_floor

log = logging.getLogger(__name__)


def _logits(probs: np.ndarray, lengths: np.ndarray, applied) -> np.ndarray:
    """Logits (up to a per-row shift) behind probabilities the scorer calibrated with
    ``applied``."""
    logp = np.log(np.clip(np.asarray(probs, np.float64), 1e-38, None))
    return logp * applied.temperatures_for(lengths)[:, None]


def check_out(out: str, bundle_path: str) -> None:
    """Refuse an OUT that is remote, not empty or the bundle itself (before anything is scored)."""
    if is_uri(out):
        raise ConfigError(
            "--recalibrate to be a local directory", out, "write it locally, then upload it"
        )
    if os.path.exists(out) and os.listdir(out):
        raise ConfigError(
            "--recalibrate to name a new or empty directory",
            f"'{out}' is not empty",
            "pass another directory or remove it",
        )
    if os.path.realpath(out) == os.path.realpath(bundle_path):
        raise ConfigError(
            "--recalibrate to be another directory than the bundle", out, "pass a new directory"
        )


def _write(bundle, cal, out: str, version: str | None, provenance: dict) -> None:
    def skip(_dir, names):  # evaluation outputs written inside the bundle stay behind
        return [n for n in names if n.startswith("eval-")]

    shutil.copytree(bundle.path, out, ignore=skip, dirs_exist_ok=True)
    with open(os.path.join(out, MANIFEST), encoding="utf-8") as f:
        meta = json.load(f)
    meta.pop("calibration", None)
    meta.update(cal.to_manifest())
    meta["version"] = version or f"{meta.get('version', '0')}+recalibrated"
    meta.setdefault("metrics", {})["calibration"] = provenance
    with open(os.path.join(out, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)


def _figures(probs, y) -> dict:
    return {"rows": int(len(y)), "ece": ece(probs, y), "ece_floor": ece_floor(probs)}


def recalibrate(scorer, probs, y, lengths, groups, cfg) -> dict:
    """Fit, write ``cfg.recalibrate`` (checked by ``check_out`` before scoring), and report;
    ``groups``: a group name per row or []."""
    lengths = np.asarray(lengths, np.int64)
    logits = _logits(probs, lengths, scorer.calibration)
    cal, fit = calibration.fit(logits, y, lengths)
    new = cal.probabilities(logits, lengths)
    report = {
        "bundle": cfg.recalibrate,
        "before": scorer.calibration.describe(),
        "after": cal.describe(),
        "fit": fit,
        "overall": {"before": _figures(probs, y), "after": _figures(new, y)},
    }
    if len(groups):
        names = np.asarray(groups)
        report["groups"] = {
            g: {
                "before": _figures(probs[names == g], y[names == g]),
                "after": _figures(new[names == g], y[names == g]),
            }  # fmt: skip
            for g in dict.fromkeys(groups)
        }
    provenance = {
        "data": [os.path.basename(str(d)) for d in cfg.data],
        "rows": int(len(y)),
        "chosen": cal.describe(),
        "cv_nll": fit["cv_nll"],
    }
    _write(scorer.bundle, cal, cfg.recalibrate, cfg.bundle_version, provenance)
    log.info("recalibrated %s -> %s: %s", report["before"], report["after"], cfg.recalibrate)
    return report
