"""Metrics: scikit-learn's figures on a small hand-checked example, the numpy calibration
helpers, and `evaluate` without scikit-learn (one line naming the extra, nothing scored)."""

import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.metrics import classification_report, ece, roc_auc

pytestmark = pytest.mark.light


def test_report_matches_hand_computed_figures_including_a_class_never_predicted():
    y = np.array([0, 0, 1, 1, 2])
    probs = np.array(
        [[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.3, 0.7, 0.0], [0.1, 0.9, 0.0], [0.6, 0.4, 0.0]]
    )  # predictions 0, 1, 1, 1, 0: class 2 is never predicted
    rep = classification_report(y, probs, ["neg", "pos", "mixed"])
    assert rep["accuracy"] == pytest.approx(3 / 5)
    assert rep["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    neg, pos, mixed = (rep["per_class"][k] for k in ("neg", "pos", "mixed"))
    assert (neg["precision"], neg["recall"], neg["support"]) == (0.5, 0.5, 2)
    assert pos["precision"] == pytest.approx(2 / 3) and pos["recall"] == 1.0
    assert pos["f1"] == pytest.approx(0.8)
    assert mixed == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert rep["f1_macro"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_binary_auc_by_hand_and_none_with_one_class():
    # positives score 0.8, 0.4; negatives 0.6, 0.2: 3 of 4 pairs ranked right
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.4, 0.6, 0.2])) == 0.75
    assert roc_auc(np.array([1, 1]), np.array([0.3, 0.9])) is None
    rep = classification_report(np.array([1, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]), ["n", "p"])
    assert rep["roc_auc"] is None and rep["accuracy"] == 0.5


def test_ece_of_perfectly_confident_right_answers_is_zero_and_of_wrong_ones_is_one():
    y = np.array([0, 1, 1])
    right = np.eye(2)[y]
    assert ece(right, y) == pytest.approx(0.0)
    assert ece(np.eye(2)[1 - y], y) == pytest.approx(1.0)


def test_evaluate_without_scikit_learn_names_the_extra_and_scores_nothing(
    tiny_bundle, tmp_path, monkeypatch
):
    for name in ("sklearn", "sklearn.metrics"):
        monkeypatch.setitem(sys.modules, name, None)  # import -> ImportError
    data = tmp_path / "dev.parquet"
    pq.write_table(pa.table({"text": ["good", "bad"], "label": [1, 0]}), data)
    out = tmp_path / "ev"
    r = CliRunner().invoke(cli, ["evaluate", tiny_bundle, str(data), "-o", str(out)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    msg = [line for line in r.output.splitlines() if line.strip()]
    assert len(msg) == 1 and "sentiscore[evaluate]" in msg[0], r.output
    assert not out.exists()


def test_label_map_swaps_an_integer_gold_column(tiny_bundle, tmp_path):
    data = tmp_path / "ids.parquet"
    texts = ["A wonderful, moving film.", "Dull and far too long.", "Loved it.", "Awful."]
    pq.write_table(pa.table({"text": texts, "label": [1, 0, 1, 0]}), data)
    reps = []
    for extra in ([], ["--label-map", "0=positive,1=negative"]):
        out = tmp_path / f"ev{len(reps)}"
        args = ["evaluate", tiny_bundle, str(data), "-o", str(out), "--no-plots", *extra]
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
        reps.append(json.loads((out / "metrics.json").read_text())["metrics"])
    assert reps[1]["accuracy"] == pytest.approx(1 - reps[0]["accuracy"])
    assert reps[1]["per_class"]["positive"]["support"] == 2


def test_evaluate_names_its_bundle_with_m_like_score_and_keeps_the_older_form(
    tiny_bundle, tmp_path
):
    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["Loved it.", "Awful."], "label": [1, 0]}), data)
    runs = {
        "m": ["evaluate", "-m", tiny_bundle, str(data)],
        "positional": ["evaluate", tiny_bundle, str(data)],
        "default model": ["evaluate", str(data)],
    }
    got = {}
    for name, args in runs.items():
        out = tmp_path / name.replace(" ", "_")
        r = CliRunner().invoke(cli, [*args, "-o", str(out), "--no-plots"])
        assert r.exit_code == 0, r.output
        got[name] = json.loads((out / "metrics.json").read_text())
    assert got["m"]["metrics"] == got["positional"]["metrics"]
    assert got["default model"]["bundle"] == "default" != got["m"]["bundle"]
    r = CliRunner().invoke(cli, ["evaluate", tiny_bundle])
    assert r.exit_code == 2 and "Missing DATA" in r.output
    two = CliRunner().invoke(cli, ["evaluate", str(data), str(data), "-o", str(tmp_path / "two")])
    assert two.exit_code == 0, two.output  # two data files: the default model, as in score
