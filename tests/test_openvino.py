"""OpenVINO and ``auto``: the runner gives ONNX Runtime's fp32 logits (in f32 here), ``auto``
measures the candidates and takes the fastest (bf16 only where OpenVINO runs it natively, and
only after its row-invariance probe passes), caches what it measured, says why it passed over
the others, and ``--precision bf16`` where it cannot run is a one-line error."""

import logging

import numpy as np
import pytest
from click.testing import CliRunner

from sentiscore.errors import BundleError, SentiscoreError
from sentiscore.infer import bundle as bundle_mod
from sentiscore.infer import cpu as cpu_mod
from sentiscore.infer import openvino as ov_mod
from sentiscore.infer.precision import choose
from sentiscore.infer.scorer import Scorer
from sentiscore.samples import builtin_sample

pytestmark = pytest.mark.light


@pytest.fixture
def amx_cpu(monkeypatch):
    """Pretend this CPU has AMX-BF16 and OpenVINO reports native bf16 (it then runs f32)."""
    pytest.importorskip("openvino")
    info = dict(cpu_mod.cpu_info(), features=["avx2", "avx512_vnni", "amx_bf16", "amx_int8"])
    monkeypatch.setattr(cpu_mod, "cpu_info", lambda: info)
    monkeypatch.setattr(ov_mod, "bf16_capabilities", lambda: (True, ""))


def test_openvino_runner_matches_onnxruntime_and_is_row_invariant(tiny_bundle):
    pytest.importorskip("openvino")
    texts = builtin_sample(64)
    scorer = Scorer.load(tiny_bundle, device="cpu", precision="fp32")
    ort_probs = scorer.probabilities(texts)
    scorer.runner = ov_mod.OpenVinoRunner(scorer.model_path, threads=2, precision="f32")
    assert scorer.runner.streams == 2
    assert "32" in scorer.runner.inference_precision
    assert np.abs(scorer.probabilities(texts) - ort_probs).max() < 1e-5
    check = scorer.invariance(texts)
    assert check["ok"] and check["max_dp"] < 1e-5, check


def test_bf16_where_the_cpu_cannot_is_a_one_line_error(tiny_bundle, monkeypatch):
    from sentiscore.cli import cli

    monkeypatch.setattr(ov_mod, "bf16_capabilities", lambda: (False, "no native bf16 here"))
    with pytest.raises(BundleError, match="no native bf16 here"):
        Scorer.load(tiny_bundle, device="cpu", precision="bf16")
    res = CliRunner().invoke(cli, ["predict", "-m", tiny_bundle, "--precision", "bf16", "Good."])
    assert res.exit_code == 1
    assert "Error:" in res.output and "bf16" in res.output and "Traceback" not in res.output


def test_bf16_needs_an_fp32_variant(tiny_bundle, amx_cpu):
    b = bundle_mod.load_bundle(tiny_bundle)
    b.meta["variants"] = {"int8": b.meta["variants"]["int8"]}
    with pytest.raises(BundleError, match="'fp32' variant"):
        choose(b, "cpu", "bf16")
    assert choose(b, "cpu", "auto")[0] == "int8"  # auto passes over bf16 without fp32


def test_auto_measures_once_and_takes_the_fastest(tiny_bundle, monkeypatch, caplog):
    from sentiscore.infer import auto

    monkeypatch.setattr(ov_mod, "bf16_capabilities", lambda: (False, "no native bf16 here"))
    calls = []
    monkeypatch.setattr(auto, "measure", lambda b, p: calls.append(p) or {"fp32": 3.0}.get(p, 1.0))
    b = bundle_mod.load_bundle(tiny_bundle)
    choice = choose(b, "cpu", "auto")
    assert choice.precision == "fp32"
    assert sorted(calls) == ["fp32", "int8", "int8-static"]
    assert "fp32 through ONNX Runtime" in choice.reason and "3.00x int8" in choice.reason
    assert "bf16: no native bf16 here" in choice.reason  # what was not taken, and why
    assert choose(b, "cpu", "auto")[0] == "fp32"
    assert len(calls) == 3  # the second choice came from the cache
    from sentiscore.infer.scorer import Scorer

    for threads in (1, 2):  # the run's threads are not part of the choice: no new measurement
        with caplog.at_level(logging.INFO, logger="sentiscore"):
            assert Scorer(b, "cpu", "auto", threads).precision == "fp32"
    assert len(calls) == 3
    assert "precision auto on cpu: fp32 through ONNX Runtime" in caplog.text  # the scorer logs it


def test_auto_reports_a_failed_variant_and_what_it_failed_on(tiny_bundle, auto_speeds):
    b = bundle_mod.load_bundle(tiny_bundle)
    b.meta["variants"]["int8"] = dict(
        b.meta["variants"]["int8"], status="failed", failed_on=["accuracy drop 1.03 pt > 0.5 pt"]
    )
    measured = auto_speeds({"int8": 9.0, "fp32": 1.0})
    choice = choose(b, "cpu", "auto")
    assert choice.precision in ("fp32", "bf16")
    assert "int8" not in measured
    assert "int8: failed its export gate (accuracy drop 1.03 pt > 0.5 pt)" in choice.reason


def test_auto_never_takes_a_batch_dependent_variant(tiny_bundle, auto_speeds):
    b = bundle_mod.load_bundle(tiny_bundle)
    b.meta["variants"]["int8"] = dict(b.meta["variants"]["int8"], activation_quant="per-tensor")
    auto_speeds({"int8": 9.0, "fp32": 1.0, "bf16": 0.1})
    assert choose(b, "cpu", "auto")[0] == "fp32"


def test_auto_takes_bf16_after_its_probe(tiny_bundle, amx_cpu, auto_speeds, caplog):
    auto_speeds({"bf16": 3.0, "int8": 2.0, "fp32": 1.0})
    with caplog.at_level(logging.INFO, logger="sentiscore"):
        scorer = Scorer.load(tiny_bundle, device="cpu", precision="auto")
    assert scorer.precision == "bf16"
    assert isinstance(scorer.runner, ov_mod.OpenVinoRunner)
    assert scorer.model_path.endswith("model.onnx")
    assert "bf16 through OpenVINO" in caplog.text
    assert scorer.stats.real_tokens == 0  # the probe does not count as scored work


def test_auto_falls_back_when_the_probe_fails(
    tiny_bundle, amx_cpu, auto_speeds, monkeypatch, caplog
):
    auto_speeds({"bf16": 3.0, "int8": 2.0, "fp32": 1.0})
    monkeypatch.setattr(
        Scorer, "invariance", lambda self, texts: {"ok": False, "max_dp": 0.2, "flips": 3}
    )
    with caplog.at_level(logging.WARNING, logger="sentiscore"):
        scorer = Scorer.load(tiny_bundle, device="cpu", precision="auto")
    assert scorer.precision == "int8"
    assert not isinstance(scorer.runner, ov_mod.OpenVinoRunner)
    assert "not row-invariant" in caplog.text and "3 label flips" in caplog.text


def test_missing_openvino_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)
    ov_mod.bf16_capabilities.cache_clear()
    try:
        ok, why = ov_mod.bf16_capabilities()
        assert not ok and "pip install 'openvino" in why
        with pytest.raises(SentiscoreError, match=r"pip install 'openvino"):
            ov_mod.OpenVinoRunner("model.onnx")
    finally:
        ov_mod.bf16_capabilities.cache_clear()


def test_bench_lists_bf16_when_runnable(tiny_bundle, amx_cpu, auto_speeds, tmp_path):
    auto_speeds({"bf16": 3.0, "int8": 2.0, "fp32": 1.0})
    from sentiscore.infer.bench import BenchConfig, run_bench

    report = run_bench(BenchConfig(model=tiny_bundle, output=str(tmp_path), rows=64, rounds=1))
    got = {v["precision"]: v for v in report["variants"]}
    assert set(got) == {"fp32", "int8", "int8-static", "bf16", "int8-static-bf16"}
    assert got["bf16"]["invariance"]["ok"] and got["int8-static-bf16"]["invariance"]["ok"]
    assert report["auto"]["precision"] == "bf16"
    assert "bf16" in (tmp_path / "bench.md").read_text()


def test_int8_static_bf16_runs_the_static_graph_at_bf16_in_openvino(
    tiny_bundle, amx_cpu, auto_speeds
):
    auto_speeds({"int8-static-bf16": 3.0, "int8-static": 2.0, "fp32": 1.0})
    scorer = Scorer.load(tiny_bundle, device="cpu", precision="auto")
    assert scorer.precision == "int8-static-bf16"
    assert isinstance(scorer.runner, ov_mod.OpenVinoRunner)
    assert scorer.model_path.endswith("model.int8-static.onnx")
    texts = builtin_sample(32)
    static = Scorer.load(tiny_bundle, device="cpu", precision="int8-static").probabilities(texts)
    assert np.abs(scorer.probabilities(texts) - static).max() < 0.05  # the same model
    assert scorer.invariance(texts)["ok"]


def test_int8_static_bf16_without_native_bf16_is_one_clear_error(tiny_bundle, monkeypatch):
    pytest.importorskip("openvino")
    monkeypatch.setattr(ov_mod, "bf16_capabilities", lambda: (False, "no bf16 on this CPU"))
    with pytest.raises(SentiscoreError, match=r"int8-static-bf16.*\n?.*no bf16") as got:
        Scorer.load(tiny_bundle, device="cpu", precision="int8-static-bf16")
    assert "--precision int8-static" in str(got.value)
