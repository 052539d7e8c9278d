"""The OpenVINO runtime on the CPU: static int8 and bf16.

OpenVINO runs the bundle's static int8 variant (a QDQ graph with fixed activation scales) with
integer kernels, ~2.5x as fast as ONNX Runtime runs the same file, and the fp32 graph at bf16 on
CPUs with AMX or AVX-512 BF16, where ONNX Runtime has no bf16 kernels. This module says whether
this machine can do that (``openvino_available``, ``bf16_available``) and runs micro-batches
there (``OpenVinoRunner``, a ``runner.Runner`` like ``session.OrtRunner``). Which precision to
use is decided by ``bundle`` and ``auto``; what the logits mean by ``scorer``.
"""

from __future__ import annotations

import functools
import logging
import threading

import numpy as np

from sentiscore.errors import DeviceError, SentiscoreError, first_line
from sentiscore.infer.runner import CPU_STREAMS, default_threads, feeds_for, run_streams

log = logging.getLogger(__name__)
EXTRA = "pip install 'openvino>=2024.4' (a dependency of sentiscore)"


def _ov():
    try:
        import openvino as ov
    except ImportError as exc:
        raise SentiscoreError(
            "The OpenVINO runtime for --precision bf16",
            "the openvino package is not installed",
            EXTRA,
        ) from exc
    return ov


@functools.lru_cache(maxsize=1)
def bf16_capabilities() -> tuple[bool, str]:
    """(whether OpenVINO runs bf16 natively on this CPU, why not when it does not)."""
    try:
        ov = _ov()
    except SentiscoreError:
        return False, f"the openvino package is not installed ({EXTRA})"
    try:
        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses
        return False, f"OpenVINO cannot query the CPU ({first_line(exc)})"
    if "BF16" not in caps:
        return False, f"OpenVINO reports no native bf16 on this CPU (capabilities {list(caps)})"
    return True, ""


def bf16_available() -> bool:
    return bf16_capabilities()[0]


@functools.lru_cache(maxsize=1)
def openvino_available() -> bool:
    """Whether the openvino package imports (it is a base dependency, but optional in spirit:
    without it static int8 runs in ONNX Runtime and bf16 is not offered)."""
    try:
        _ov()
    except SentiscoreError:
        return False
    return True


SHAPE_CACHE = 100


def _vocab_size(model) -> int | None:
    """Rows of the embedding table that ``input_ids`` index (OpenVINO's Gather returns zeros
    for an id beyond it, where ONNX Runtime fails), or None when the graph does not show it."""
    todo = [p for p in model.get_parameters() if p.get_friendly_name() == "input_ids"]
    while todo:  # input_ids, and what converts its type on the way to the Gather
        for target in (t for out in todo.pop().outputs() for t in out.get_target_inputs()):
            node = target.get_node()
            if node.get_type_name() == "Convert":
                todo.append(node)
            shape = node.input(0).get_partial_shape()
            if node.get_type_name() == "Gather" and target.get_index() == 1:
                if shape.rank.is_static and len(shape) == 2 and shape[0].is_static:
                    return shape[0].get_length()
    return None


class OpenVinoRunner:
    """One compiled OpenVINO model for one ONNX file on the CPU; ``precision`` is the inference
    precision of the ops that are not integer ("bf16", or "f32": the static int8 variant, and
    fp32 to compare with ONNX Runtime). ``threads`` (default: all cores) are shared by
    ``streams`` concurrent micro-batches, each on its own infer request."""

    device = "cpu"

    def __init__(self, model_path: str, threads: int | None = None, precision: str = "bf16"):
        ov = _ov()
        threads = threads or default_threads()
        self.streams = min(CPU_STREAMS, threads)
        config = {
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": str(self.streams),
            "INFERENCE_NUM_THREADS": str(threads),
            # kernels kept per input shape: exact-length batching (now padded widths) made
            # hundreds of shapes, and the default (5,000) grew to 8 GB on 20,000 IMDB reviews;
            # 100 kept that run at 1.25 GB, 842 MB with padded widths (long_texts_memory.md)
            "CPU_RUNTIME_CACHE_CAPACITY": str(SHAPE_CACHE),
        }
        try:
            core = ov.Core()
            model = core.read_model(model_path)
            self.vocab_size = _vocab_size(model)
            self.compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses
            raise DeviceError(
                f"OpenVINO to compile '{model_path}' for the CPU at {precision}",
                first_line(exc),
                "re-export the bundle, or use --precision int8 or fp32 (ONNX Runtime)",
            ) from exc
        # pybind11 sets up its numpy API on first use with a call_once; two streams making
        # that first use at once have deadlocked in it (both threads waiting, seen in a
        # stack dump of a hung run). Make the first use here, on one thread.
        ov.Tensor(np.zeros((1, 1), dtype=np.int64), shared_memory=True)
        self.inference_precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.input_names = [p.get_any_name() for p in self.compiled.inputs]
        self.pads_exactly = False  # see ``runner.Runner``
        self._local = threading.local()
        log.info(
            "OpenVINO %s on the CPU: inference precision %s, %d streams",
            ov.get_version(),
            self.inference_precision,
            self.streams,
        )

    def _request(self):
        req = getattr(self._local, "request", None)
        if req is None:
            req = self._local.request = self.compiled.create_infer_request()
        return req

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits (n, num_labels) as float32."""
        req = self._request()
        feeds = {
            k: np.ascontiguousarray(v)
            for k, v in feeds_for(self.input_names, input_ids, attention_mask).items()
        }
        # shared, not copied: no Python-side reshape and copy of the request's tensors
        # (done holding the GIL while another stream runs), and one copy less
        req.infer(feeds, share_inputs=True)
        return np.array(req.get_output_tensor(0).data, dtype=np.float32)

    def run_all(self, batches):
        """(micro-batch, logits) for every micro-batch, in completion order."""
        return run_streams(self.run, self.streams, batches)
