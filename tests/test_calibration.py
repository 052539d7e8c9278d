"""Calibration by token band: fitting, the manifest form, and the scorer applying it per row."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sentiscore import calibration
from sentiscore.calibration import Calibration
from sentiscore.errors import BundleError
from sentiscore.infer.bundle import load_bundle
from sentiscore.infer.scorer import Scorer
from sentiscore.metrics import softmax


def _population(rng, n, scale, length_range):
    """Logits of a binary model whose confidence is ``scale`` times what it should be."""
    y = rng.integers(0, 2, n)
    margin = rng.normal(1.5, 1.0, n) * np.where(y == 1, 1, -1)  # well calibrated at T=1
    flip = rng.random(n) < 1 / (1 + np.exp(np.abs(margin)))
    y = np.where(flip, 1 - y, y)
    logits = np.stack([-margin / 2, margin / 2], axis=1) * scale
    return logits, y, rng.integers(*length_range, n)


def test_fit_gives_short_texts_their_own_temperature():
    rng = np.random.default_rng(0)
    short = _population(rng, 1500, 2.0, (5, 30))  # over-confident short sentences
    long = _population(rng, 1500, 1.0, (100, 400))  # calibrated long reviews
    logits, y, n = (np.concatenate(parts) for parts in zip(short, long))
    cal, report = calibration.fit(logits, y, n)
    assert not cal.single, report
    temps = cal.temperatures_for(np.array([10, 300]))
    assert temps[0] == pytest.approx(2.0, rel=0.15) and temps[1] == pytest.approx(1.0, rel=0.15)
    assert report["cv_nll"]["one temperature"] > min(report["cv_nll"].values())


def test_fit_keeps_one_temperature_when_bands_do_not_help():
    rng = np.random.default_rng(1)
    logits, y, n = _population(rng, 3000, 1.5, (5, 400))
    cal, _ = calibration.fit(logits, y, n)
    assert cal.single and cal.temperatures[0] == pytest.approx(1.5, rel=0.1)


def test_fit_skips_bands_with_too_few_rows():
    rng = np.random.default_rng(2)
    logits, y, n = _population(rng, 150, 1.0, (5, 400))
    cal, report = calibration.fit(logits, y, n)
    assert cal.single and list(report["cv_nll"]) == ["one temperature"]


def test_manifest_round_trip_and_refusals():
    cal = Calibration((24, 64), (1.7, 1.6, 1.1))
    assert Calibration.from_manifest(cal.to_manifest()) == cal
    assert Calibration.from_manifest({"temperature": 1.5}) == Calibration((), (1.5,))
    assert cal.to_manifest()["temperature"] == 1.6  # what readers without bands use
    np.testing.assert_allclose(cal.temperatures_for([1, 24, 25, 64, 65, 512]),
                               [1.7, 1.7, 1.6, 1.6, 1.1, 1.1])  # fmt: skip
    for bad in [((64, 24), (1, 1, 1)), ((24,), (1.0,)), ((24,), (1.0, -2.0)), ((0,), (1, 1))]:
        with pytest.raises(ValueError):
            Calibration(*bad)


def _with_calibration(tiny_bundle, tmp_path, cal) -> str:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    meta = json.loads((copy / "sentiscore.json").read_text())
    meta.update(cal if isinstance(cal, dict) else cal.to_manifest())
    (copy / "sentiscore.json").write_text(json.dumps(meta))
    return str(copy)


def test_scorer_applies_each_rows_band_alone_or_batched(tiny_bundle, tmp_path):
    texts = ["good", "bad film", " ".join(["a long review that goes on"] * 12)] * 3
    raw = Scorer.load(tiny_bundle, device="cpu", precision="fp32")
    raw.temperature = 1.0
    lengths = np.array([len(r) for r in raw.encoder.encode(texts)])
    edge = int(lengths.min()) + 1
    assert lengths.max() > edge  # both bands are used
    cal = Calibration((edge,), (3.0, 0.5))
    scorer = Scorer.load(_with_calibration(tiny_bundle, tmp_path, cal), "cpu", "fp32")
    got = scorer.probabilities(texts)
    logits = np.log(raw.probabilities(texts))
    want = softmax(logits / np.where(lengths <= edge, 3.0, 0.5)[:, None])
    np.testing.assert_allclose(got, want, atol=1e-5)
    alone = np.concatenate([scorer.probabilities([t]) for t in texts])
    np.testing.assert_allclose(alone, got, atol=1e-6)


def test_a_bad_calibration_in_the_manifest_is_one_clear_error(tiny_bundle, tmp_path):
    bad = {"calibration": {"by": "tokens", "edges": [32], "temperatures": [1.0, -1.0]}}
    with pytest.raises(BundleError, match="calibration") as err:
        load_bundle(_with_calibration(tiny_bundle, tmp_path, bad))
    assert "\n" not in str(err.value).strip()


def test_evaluate_recalibrate_writes_a_bundle_that_reproduces_its_figures(tiny_bundle, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from sentiscore.cli import cli as main

    rng = np.random.default_rng(0)
    words = ["good", "bad", "film", "great", "awful", "plot", "boring", "fun"]
    texts = [" ".join(rng.choice(words, rng.integers(1, 30))) for _ in range(60)]
    data = tmp_path / "labeled.parquet"
    pq.write_table(pa.table({"text": texts, "label": rng.integers(0, 2, 60)}), data)
    out = tmp_path / "recal"
    args = ["evaluate", "-m", tiny_bundle, str(data), "--no-plots", "-o", str(tmp_path / "e1")]
    res = CliRunner().invoke(main, [*args, "--recalibrate", str(out), "--bundle-version", "9.1"])
    assert res.exit_code == 0, res.output
    assert "recalibrated: T=" in res.output and "bundle written to" in res.output
    meta = json.loads((out / "sentiscore.json").read_text())
    assert meta["version"] == "9.1" and meta["metrics"]["calibration"]["rows"] == 60
    report = json.loads((tmp_path / "e1" / "metrics.json").read_text())["recalibrated"]
    res = CliRunner().invoke(main, ["evaluate", "-m", str(out), str(data), "--no-plots",
                                    "-o", str(tmp_path / "e2")])  # fmt: skip
    assert res.exit_code == 0, res.output
    again = json.loads((tmp_path / "e2" / "metrics.json").read_text())["metrics"]["ece"]
    assert again == pytest.approx(report["overall"]["after"]["ece"], abs=1e-4)
    res = CliRunner().invoke(main, [*args, "--recalibrate", str(out)])  # not empty now
    assert res.exit_code != 0 and "not empty" in res.output and "Traceback" not in res.output
    fresh = ["evaluate", "-m", tiny_bundle, str(data), "--no-plots", "-o", str(tmp_path / "e3")]
    res = CliRunner().invoke(main, [*fresh, "--recalibrate", str(out)])
    assert res.exit_code != 0 and not (tmp_path / "e3").exists()  # refused before scoring
