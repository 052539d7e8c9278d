"""Probability calibration: a softmax temperature per band of token length.

One temperature fitted on a mix of short sentences and long reviews can be a compromise when a
model is more over-confident on short texts than on long ones. ``Calibration`` holds one temperature
per band of tokens (the row's own token count after truncation, special tokens included), so a
row's probabilities still depend on the row alone, in every engine and variant. ``fit`` picks
the bands by cross-validated NLL on labeled rows and keeps a single temperature unless bands
measurably do better. Where the numbers are kept is the manifest's business (``to_manifest``,
``from_manifest``), where they are applied the scorer's, where they are fitted export's.
numpy only: the scorer imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sentiscore.metrics import fit_temperature, nll, softmax

# Band upper bounds tried by ``fit`` (tokens, inclusive); () is one temperature for all rows.
CANDIDATE_EDGES: tuple[tuple[int, ...], ...] = ((), (32,), (24, 64), (32, 128), (24, 64, 160))
MIN_BAND_ROWS = 100  # labeled rows every band needs before it gets its own temperature
FOLDS = 5
MIN_GAIN = 0.002  # cross-validated NLL a banding must gain over one temperature to be kept


@dataclass(frozen=True)
class Calibration:
    """``temperatures[i]`` applies to rows of ``edges[i-1] < tokens <= edges[i]`` (the last
    to every longer row); no edges: one temperature."""

    edges: tuple[int, ...] = ()
    temperatures: tuple[float, ...] = (1.0,)

    def __post_init__(self):
        edges, temps = tuple(self.edges), tuple(self.temperatures)
        if any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in edges) or list(
            edges
        ) != sorted(set(edges)):
            raise ValueError(f"band edges must be increasing token counts >= 1, got {edges}")
        if len(temps) != len(edges) + 1:
            raise ValueError(
                f"{len(edges) + 1} temperatures needed for {len(edges)} edges, got {len(temps)}"
            )
        if any(
            isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0
            for t in temps
        ):
            raise ValueError(f"temperatures must be finite numbers > 0, got {temps}")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "temperatures", tuple(float(t) for t in temps))

    @property
    def single(self) -> bool:
        return not self.edges

    @property
    def temperature(self) -> float:
        """The one temperature that stands for this calibration (the middle band's with bands):
        the manifest's ``temperature``, which older readers apply to every row."""
        return self.temperatures[len(self.temperatures) // 2]

    def temperatures_for(self, lengths) -> np.ndarray:
        """The temperature of each row, from its token count."""
        band = np.searchsorted(np.asarray(self.edges, dtype=np.int64), lengths, side="left")
        return np.asarray(self.temperatures, dtype=np.float64)[band]

    def probabilities(self, logits: np.ndarray, lengths) -> np.ndarray:
        """Calibrated class probabilities (float64) of logits (n, k) for rows of ``lengths``."""
        if self.single:
            return softmax(logits, self.temperatures[0])
        return softmax(np.asarray(logits, np.float64) / self.temperatures_for(lengths)[:, None])

    def describe(self) -> str:
        if self.single:
            return f"T={self.temperatures[0]:.3f}"
        bounds = [f"<={e}" for e in self.edges] + [f">{self.edges[-1]}"]
        return "T by tokens " + ", ".join(
            f"{b}: {t:.3f}" for b, t in zip(bounds, self.temperatures)
        )

    def to_manifest(self) -> dict:
        """Manifest fields: ``temperature`` (one number, which bundles have always had and
        older readers use) and, with bands, ``calibration``."""
        if self.single:
            return {"temperature": self.temperature}
        return {
            "temperature": self.temperature,
            "calibration": {
                "by": "tokens",
                "edges": list(self.edges),
                "temperatures": list(self.temperatures),
            },
        }

    @classmethod
    def from_manifest(cls, meta: dict) -> Calibration:
        """From a manifest's fields; raises ValueError saying what is wrong."""
        cal = meta.get("calibration")
        if cal is None:
            return cls((), (meta.get("temperature", 1.0) or 1.0,))
        if not isinstance(cal, dict) or cal.get("by") != "tokens":
            raise ValueError(
                f"calibration must be {{'by': 'tokens', 'edges': [...], 'temperatures': [...]}}, got {cal!r}"
            )
        edges, temps = cal.get("edges"), cal.get("temperatures")
        if not isinstance(edges, list) or not isinstance(temps, list):
            raise ValueError(f"calibration edges and temperatures must be lists, got {cal!r}")
        return cls(tuple(edges), tuple(temps))


def _fit_bands(logits, y, lengths, edges) -> Calibration:
    band = np.searchsorted(np.asarray(edges, dtype=np.int64), lengths, side="left")
    temps = tuple(fit_temperature(logits[band == b], y[band == b]) for b in range(len(edges) + 1))
    return Calibration(tuple(edges), temps)


def _cv_nll(logits, y, lengths, edges, folds: int, seed: int) -> float:
    fold = np.random.default_rng(seed).integers(0, folds, len(y))
    total = 0.0
    for f in range(folds):
        train, test = fold != f, fold == f
        if not test.any():
            continue
        cal = _fit_bands(logits[train], y[train], lengths[train], edges)
        p = cal.probabilities(logits[test], lengths[test])
        total += -np.log(np.clip(p[np.arange(test.sum()), y[test]], 1e-12, None)).sum()
    return total / len(y)


def fit(
    logits: np.ndarray,
    y: np.ndarray,
    lengths,
    candidates=CANDIDATE_EDGES,
    min_rows: int = MIN_BAND_ROWS,
    seed: int = 0,
) -> tuple[Calibration, dict]:
    """The calibration minimising cross-validated NLL on labeled rows among ``candidates``
    (bands with fewer than ``min_rows`` rows are not tried; bands must gain ``MIN_GAIN`` over
    one temperature), refitted on all rows; and a report of every candidate's score."""
    logits, y = np.asarray(logits, np.float64), np.asarray(y, np.int64)
    lengths = np.asarray(lengths, np.int64)
    tried = {}
    for edges in candidates:
        band = np.searchsorted(np.asarray(edges, dtype=np.int64), lengths, side="left")
        counts = np.bincount(band, minlength=len(edges) + 1)
        if edges and counts.min() < min_rows:
            continue
        tried[tuple(edges)] = _cv_nll(logits, y, lengths, tuple(edges), FOLDS, seed)
    best = ()
    single = tried[()] if () in tried else _cv_nll(logits, y, lengths, (), FOLDS, seed)
    for edges, score in tried.items():
        if edges and score <= single - MIN_GAIN and score < tried.get(best, single):
            best = edges
    cal = _fit_bands(logits, y, lengths, best)
    report = {
        "chosen": cal.describe(),
        "nll_at_1": nll(logits, y),
        "cv_nll": {
            ("one temperature" if not e else f"bands {list(e)}"): s for e, s in tried.items()
        },
    }
    return cal, report
