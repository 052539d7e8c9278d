"""CUDA failure modes, on any machine: ONNX Runtime's provider list and sessions are faked, so
each case a GPU user can hit gives one clear line (``--device cuda``) or a warned fallback to
the CPU (``--device auto``), never a silent CPU run or a traceback."""

import logging

import onnxruntime as ort
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.errors import DeviceError
from sentiscore.infer import session
from sentiscore.infer.scorer import Scorer

pytestmark = pytest.mark.light
CPU_ONLY = ["CPUExecutionProvider"]
WITH_CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]
REAL_SESSION = ort.InferenceSession


def fake_providers(monkeypatch, providers, packages=("onnxruntime-gpu",)):
    monkeypatch.setattr(ort, "get_available_providers", lambda: list(providers))
    monkeypatch.setattr(session, "installed_ort_packages", lambda: list(packages))


def falls_back(monkeypatch):
    """A session asked for CUDA that quietly runs on the CPU (what ONNX Runtime does when the
    CUDA provider's libraries fail to load)."""

    class FellBack(REAL_SESSION):
        def __init__(self, path, sess_options=None, providers=None):
            super().__init__(path, sess_options=sess_options, providers=CPU_ONLY)

    monkeypatch.setattr(ort, "InferenceSession", FellBack)
    monkeypatch.setattr(session, "missing_cuda_libraries", lambda: ["libcudnn"])


def test_both_onnxruntime_packages_installed_is_named_in_the_error(monkeypatch):
    fake_providers(monkeypatch, CPU_ONLY, ("onnxruntime", "onnxruntime-gpu"))
    with pytest.raises(DeviceError) as err:
        session.resolve_device("cuda")
    msg = str(err.value)
    assert "both onnxruntime and onnxruntime-gpu are installed" in msg
    assert "pip uninstall onnxruntime" in msg and "\n" not in msg
    assert session.resolve_device("auto") == "cpu"


def test_both_packages_with_cuda_working_warns(monkeypatch, caplog):
    fake_providers(monkeypatch, WITH_CUDA, ("onnxruntime", "onnxruntime-gpu"))
    with caplog.at_level(logging.WARNING, logger="sentiscore"):
        assert session.resolve_device("cuda") == "cuda"
    assert "keep only onnxruntime-gpu" in caplog.text


def test_a_silent_cpu_fallback_is_refused_on_cuda(monkeypatch, tiny_bundle):
    fake_providers(monkeypatch, WITH_CUDA)
    falls_back(monkeypatch)
    with pytest.raises(DeviceError) as err:
        Scorer.load(tiny_bundle, device="cuda", precision="fp32")
    msg = str(err.value)
    assert "fell back to ['CPUExecutionProvider']" in msg and "libcudnn" in msg
    assert "cuDNN 9" in msg and "--device cpu" in msg


def test_auto_scores_on_the_cpu_with_a_warning_when_cuda_cannot_start(
    monkeypatch, tiny_bundle, caplog
):
    fake_providers(monkeypatch, WITH_CUDA)
    falls_back(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="sentiscore"):
        scorer = Scorer.load(tiny_bundle, device="auto", precision="fp32")
    assert scorer.device == "cpu" and scorer.runner.session.get_providers() == CPU_ONLY
    assert "device auto: not using CUDA" in caplog.text
    assert scorer.probabilities(["a fine film"]).shape == (1, 2)


def test_missing_cuda_libraries_at_load_are_one_line_with_the_fix(monkeypatch, tiny_bundle):
    fake_providers(monkeypatch, WITH_CUDA)

    def broken(*args, **kwargs):
        raise RuntimeError(
            "Failed to load library libonnxruntime_providers_cuda.so with error: "
            "libcudnn.so.9: cannot open shared object file: No such file or directory\n"
            "stack trace line"
        )

    monkeypatch.setattr(ort, "InferenceSession", broken)
    with pytest.raises(DeviceError) as err:
        Scorer.load(tiny_bundle, device="cuda", precision="fp32")
    msg = str(err.value)
    assert "libcudnn.so.9: cannot open shared object file" in msg
    assert "onnxruntime-gpu[cuda,cudnn]" in msg and "stack trace" not in msg


def test_default_model_on_cuda_names_the_missing_gpu_variant(monkeypatch, tmp_path):
    """The embedded model ships CPU variants only: --device cuda says so and how to get one."""
    fake_providers(monkeypatch, WITH_CUDA)
    src = tmp_path / "in.csv"
    src.write_text("text\nlovely\n")
    res = CliRunner().invoke(cli, ["score", str(src), "--device", "cuda", "-o", "-"])
    assert res.exit_code != 0
    line = res.output.strip().splitlines()[-1]
    assert "--precision fp32,fp16" in line and "--device cpu" in line
    assert "Traceback" not in res.output


def test_default_model_with_auto_on_a_gpu_machine_scores_on_the_cpu(monkeypatch, caplog):
    fake_providers(monkeypatch, WITH_CUDA)
    with caplog.at_level(logging.WARNING, logger="sentiscore"):
        scorer = Scorer.load("default", device="auto")
    assert scorer.device == "cpu" and "not using CUDA" in caplog.text
