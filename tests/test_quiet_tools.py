"""export and train are quiet and forgiving: third-party warnings go to a log, a training run
directory exports its model, offline mode is detected at once, short runs plot their loss."""

import os
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.modeling import hub
from sentiscore.testing import build_tiny_model, sample_reviews


@pytest.fixture
def offline(monkeypatch):
    """Offline mode for one test, with every flag it flips restored afterwards."""
    import importlib

    for module, attr in hub._OFFLINE_FLAGS:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        monkeypatch.setattr(mod, attr, getattr(mod, attr))
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    hub.offline_reason.cache_clear()
    yield
    hub.offline_reason.cache_clear()


def test_export_of_a_run_directory_is_quiet(tmp_path):
    pytest.importorskip("optimum.exporters.onnx")
    build_tiny_model(str(tmp_path / "run" / "model"))
    out = tmp_path / "bundle"
    cmd = [sys.executable, "-m", "sentiscore", "export", str(tmp_path / "run"), "-o", str(out)]
    cmd += ["--max-length", "32", "--samples", "32"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^variant +status", done.stdout, re.M) and "export.log" in done.stdout
    assert done.stderr.strip() == ""  # no TracerWarning, opset or pre-processing advice
    log = (out / "export.log").read_text()
    assert "TracerWarning" in log and "pre-processing" in log
    assert (out / "sentiscore.json").exists()


def test_offline_reason_probes_the_endpoint(monkeypatch):
    for var in hub.OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    hub.offline_reason.cache_clear()
    try:
        assert hub.offline_reason().startswith("no answer from 127.0.0.1:9")
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        hub.offline_reason.cache_clear()
        assert hub.offline_reason() == "HF_HUB_OFFLINE is set"
    finally:
        hub.offline_reason.cache_clear()


def test_train_offline_says_how_to_pass_local_files(tiny_model_dir, tmp_path, offline):
    pytest.importorskip("datasets")
    r = CliRunner().invoke(
        cli, ["train", "--model", tiny_model_dir, "--data", "imdb", "-o", str(tmp_path / "r")]
    )
    assert r.exit_code == 1
    assert "not reachable (HF_HUB_OFFLINE is set)" in r.output
    assert "--data train.parquet" in r.output
    data = tmp_path / "d.parquet"
    rows = sample_reviews(40)
    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": [y for _, y in rows]}), data)
    r = CliRunner().invoke(
        cli, ["train", "--model", "no-such/model", "--data", str(data), "-o", str(tmp_path / "m")]
    )
    assert r.exit_code == 1 and "pass a local model directory" in r.output


def test_loss_plot_marks_few_points():
    pytest.importorskip("matplotlib")
    from sentiscore.plots import loss_figure

    fig = loss_figure([{"epoch": 1.0, "loss": 0.69}, {"epoch": 1.0, "eval_loss": 0.7}])
    train = fig.axes[0].lines[0]
    assert train.get_label() == "train loss" and train.get_marker() not in (None, "None", "")


def test_roc_legend_carries_the_auc(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import numpy as np

    from sentiscore import plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.35, 0.65], [0.2, 0.8]])
    plots.roc(y, probs, ["negative", "positive"], str(tmp_path / "roc.png"))
    legend = [t.get_text() for t in figures[0].axes[0].get_legend().get_texts()]
    assert legend == ["positive (AUC 1.000)"]


def test_export_gives_one_line_for_a_directory_without_a_model(tmp_path):
    pytest.importorskip("optimum.exporters.onnx")
    os.makedirs(tmp_path / "empty")
    r = CliRunner().invoke(cli, ["export", str(tmp_path / "empty"), "-o", str(tmp_path / "b")])
    assert r.exit_code == 1 and r.output.startswith("Error:") and "config.json" in r.output
    assert "model_type" not in r.output  # not transformers' list of model types


def test_train_shows_bars_but_no_raw_log_dicts(tiny_model_dir, tmp_path, capfd):
    from sentiscore.trainer.config import TrainConfig
    from sentiscore.trainer.run import train

    rows = sample_reviews(48)
    data = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": [y for _, y in rows]}), data)
    cfg = TrainConfig(model=tiny_model_dir, data=[str(data)], output=str(tmp_path / "run"),
                      epochs=1, batch_size=8, max_length=32, logging_steps=2, progress=True)  # fmt: skip
    res = train(cfg)
    out, err = capfd.readouterr()
    assert "{'loss'" not in out + err and "{'eval_loss'" not in out + err
    assert "{'train_runtime'" not in out + err
    assert any("loss" in h for h in res.metrics["log_history"])  # still recorded


def test_the_card_says_what_the_model_was_trained_on_and_flags_a_recall_gap():
    from sentiscore.trainer.report import intended_use, recall_note

    use = intended_use(["../shared/data/amazon_polarity/train.parquet", "imdb"])
    assert "product reviews (Amazon)" in use and "film reviews (IMDB)" in use
    assert "tickets.csv" in intended_use(["data/tickets.csv"])
    balanced = {"negative": {"recall": 0.90}, "positive": {"recall": 0.93}}
    assert recall_note(balanced) == ""
    skewed = {"negative": {"recall": 0.62}, "positive": {"recall": 0.97}}
    note = recall_note(skewed)
    assert "'negative' is found 62.0%" in note and "35.0 points below 'positive'" in note


@pytest.mark.parametrize("engine", ["ray", "spark"])
def test_cluster_engines_are_silent_with_silent(engine, tiny_bundle, tmp_path):
    """--silent on a local Ray or Spark: no INFO lines, no Ray driver or JVM start-up notes, no
    pandas warning from PySpark; -v shows them again."""
    pytest.importorskip("ray" if engine == "ray" else "pyspark")
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["a fine film", "dull"] * 20}), src)
    cmd = [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle]
    cmd += ["--engine", engine, "--workers", "1"]
    quiet = subprocess.run(
        [*cmd, "-o", str(tmp_path / "a"), "--silent"], capture_output=True, text=True, timeout=300
    )
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    loud = subprocess.run(
        [*cmd, "-o", str(tmp_path / "b"), "--silent", "-v"], capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert loud.returncode == 0 and loud.stderr.strip(), "-v shows the engine's own lines"
