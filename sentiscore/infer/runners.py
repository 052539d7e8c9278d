"""Which engine runs which variant, and the factory that loads it: OpenVINO for bf16 and
(when installed) int8-static on the CPU, ONNX Runtime for the rest and for everything on
CUDA. The engines themselves are ``session`` and ``openvino``; their shared interface is
``runner``. Which precision to run is ``bundle``'s and ``auto``'s business.
"""

from __future__ import annotations

from sentiscore.choices import BF16_PRECISIONS
from sentiscore.infer.runner import Runner

# The engine of each precision on the CPU. bf16 is the fp32 graph at bf16 in OpenVINO (ONNX
# Runtime has no bf16 kernels); int8-static is a QDQ graph with fixed activation scales, which
# OpenVINO runs with integer kernels (ONNX Runtime runs it too, ~0.4x as fast); int8-static-bf16
# is that graph with its other ops at bf16, in OpenVINO only.
OPENVINO_PRECISIONS = (*BF16_PRECISIONS, "int8-static")
ENGINE_NAMES = {"openvino": "OpenVINO", "onnxruntime": "ONNX Runtime"}


def engine_for(precision: str, device: str) -> str:
    """'openvino' or 'onnxruntime': the engine that runs ``precision`` on ``device``."""
    if device != "cpu" or precision not in OPENVINO_PRECISIONS:
        return "onnxruntime"
    if precision in BF16_PRECISIONS:
        return "openvino"
    from sentiscore.infer.openvino import openvino_available

    return "openvino" if openvino_available() else "onnxruntime"


def make_runner(precision: str, model_path: str, device: str, threads: int | None) -> Runner:
    """The runner for a precision: OpenVINO for bf16 and (when installed) int8-static on the
    CPU, ONNX Runtime for the rest and for everything on CUDA."""
    if engine_for(precision, device) == "openvino":
        from sentiscore.infer.openvino import OpenVinoRunner

        hint = "bf16" if precision in BF16_PRECISIONS else "f32"
        return OpenVinoRunner(model_path, threads, hint)
    from sentiscore.infer.session import OrtRunner

    return OrtRunner(model_path, device, threads)
