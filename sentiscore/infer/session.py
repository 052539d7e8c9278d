"""ONNX Runtime sessions: provider choice, CPU/CUDA settings, and running one micro-batch.

Chooses the execution provider explicitly and refuses silent CUDA->CPU fallback. CPU sessions
use all cores, split over two concurrent streams of micro-batches (one shared session, each
stream with half the intra-op threads: +8 % rows/s on short sentences and +3 % on long reviews
on 2 cores, measured against one stream with all threads), full graph optimisation, and no
per-shape memory patterns (shapes vary with every length-bucketed batch). CUDA sessions run
one stream with IO binding. ``OrtRunner`` implements ``runner.Runner``; ``runners.make_runner``
decides when ONNX Runtime runs a variant. Which model file to load is decided by ``bundle``;
what the logits mean is decided by ``scorer``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

import numpy as np

from sentiscore.choices import DEVICES
from sentiscore.errors import DeviceError, SentiscoreError, first_line
from sentiscore.infer.runner import CPU_STREAMS, default_threads, feeds_for, run_streams

log = logging.getLogger(__name__)


def _ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover
        raise SentiscoreError(
            "onnxruntime (CPU) or onnxruntime-gpu to be installed",
            "neither imports",
            "pip install onnxruntime, or pip install 'sentiscore[gpu]'",
        ) from exc
    return ort


def installed_ort_packages() -> list[str]:
    from importlib import metadata

    found = []
    for name in ("onnxruntime", "onnxruntime-gpu"):
        try:
            metadata.version(name)
            found.append(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def cuda_available() -> bool:
    return "CUDAExecutionProvider" in _ort().get_available_providers()


def _cuda_unavailable_reason() -> str:
    ort = _ort()
    pkgs = installed_ort_packages()
    reason = f"onnxruntime {ort.__version__} offers providers {ort.get_available_providers()}"
    if len(pkgs) > 1:
        reason += "; both onnxruntime and onnxruntime-gpu are installed, and the CPU package shadows the GPU one"
    elif "onnxruntime-gpu" not in pkgs:
        reason += "; onnxruntime-gpu is not installed"
    return reason


def resolve_device(device: str) -> str:
    """Map 'auto'/'cpu'/'cuda' to the device to use, or raise when CUDA is asked for but absent."""
    if device not in DEVICES:
        raise DeviceError("--device to be auto, cpu or cuda", repr(device), "pick one of those")
    if device == "cpu":
        return "cpu"
    if cuda_available():
        if len(installed_ort_packages()) > 1:
            log.warning(
                "both onnxruntime and onnxruntime-gpu are installed; keep only onnxruntime-gpu"
            )
        log.info("device %s: using CUDAExecutionProvider", device)
        return "cuda"
    if device == "cuda":
        raise DeviceError(
            "CUDAExecutionProvider for --device cuda",
            _cuda_unavailable_reason(),
            "pip uninstall onnxruntime && pip install 'sentiscore[gpu]', or use --device cpu",
        )
    log.info("device auto: CUDA not available, using CPUExecutionProvider")
    return "cpu"


CUDA_LIBRARIES_FIX = (
    "install the CUDA and cuDNN 9 libraries onnxruntime-gpu was built for "
    "(pip install 'onnxruntime-gpu[cuda,cudnn]', or the system CUDA toolkit on "
    "LD_LIBRARY_PATH), or use --device cpu"
)
# One name per library; any major version found counts (CUDA 12 and 13 builds exist).
CUDA_LIBRARIES = {
    "libcudart": ("libcudart.so.13", "libcudart.so.12"),
    "libcublasLt": ("libcublasLt.so.13", "libcublasLt.so.12"),
    "libcudnn": ("libcudnn.so.9",),
}


def missing_cuda_libraries() -> list[str]:
    """The CUDA libraries ONNX Runtime's CUDA provider needs that this process cannot load."""
    import ctypes

    missing = []
    for name, files in CUDA_LIBRARIES.items():
        for f in files:
            try:
                ctypes.CDLL(f)
                break
            except OSError:
                continue
        else:
            missing.append(name)
    return missing


def _preload_cuda_libraries(ort) -> None:
    """Load CUDA/cuDNN from the nvidia-* pip packages when they are installed (onnxruntime
    >= 1.21 can), so a pip-only setup finds them; a failure shows up as a fallback below."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        try:
            preload()
        except Exception as exc:  # noqa: BLE001 - best effort; the session check decides
            log.debug("onnxruntime.preload_dlls: %s", first_line(exc))


def _options(intra_threads: int):
    ort = _ort()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = intra_threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.enable_mem_pattern = False  # shapes change per batch; patterns would pile up per shape
    so.log_severity_level = 3
    return so


class OrtRunner:
    """One ONNX Runtime session for one model file on one device; ``threads`` (default: all
    cores) is shared by ``streams`` concurrent micro-batches on CPU."""

    def __init__(self, model_path: str, device: str, threads: int | None = None):
        ort = _ort()
        self.device = device
        threads = threads or default_threads()
        self.streams = min(CPU_STREAMS, threads) if device == "cpu" else 1
        so = _options(max(1, threads // self.streams))
        if device == "cuda":
            providers = [
                (
                    "CUDAExecutionProvider",
                    {"device_id": 0, "arena_extend_strategy": "kSameAsRequested"},
                ),
                "CPUExecutionProvider",
            ]
        else:
            providers = ["CPUExecutionProvider"]
        if device == "cuda":
            _preload_cuda_libraries(ort)
        try:
            self.session = ort.InferenceSession(model_path, sess_options=so, providers=providers)
        except Exception as exc:  # noqa: BLE001 - ORT raises several unrelated types
            raise DeviceError(
                f"ONNX Runtime to load '{os.path.basename(model_path)}' on {device}",
                first_line(exc),
                CUDA_LIBRARIES_FIX
                if device == "cuda" and "shared object" in str(exc)
                else "re-export the bundle or try --device cpu",
            ) from exc
        active = self.session.get_providers()
        if device == "cuda" and active[0] != "CUDAExecutionProvider":
            missing = missing_cuda_libraries()
            raise DeviceError(
                "The session to run on CUDAExecutionProvider",
                f"ONNX Runtime fell back to {active}"
                + (f" (not loadable: {', '.join(missing)})" if missing else ""),
                CUDA_LIBRARIES_FIX,
            )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.pads_exactly = True  # see ``runner.Runner``
        self.output_name = self.session.get_outputs()[0].name

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits (n, num_labels) as float32."""
        feeds = feeds_for(self.input_names, input_ids, attention_mask)
        if self.device == "cuda":
            return self._run_cuda(feeds)
        return np.asarray(self.session.run([self.output_name], feeds)[0], dtype=np.float32)

    def run_all(self, batches: Iterable) -> Iterator[tuple[object, np.ndarray]]:
        """(micro-batch, logits) for every micro-batch, in completion order (``run_streams``)."""
        return run_streams(self.run, self.streams, batches)

    def _run_cuda(self, feeds: dict) -> np.ndarray:
        ort = _ort()
        binding = self.session.io_binding()
        for name, arr in feeds.items():
            binding.bind_ortvalue_input(
                name, ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(arr), "cuda", 0)
            )
        binding.bind_output(self.output_name, "cuda", 0)
        self.session.run_with_iobinding(binding)
        return np.asarray(binding.copy_outputs_to_cpu()[0], dtype=np.float32)
