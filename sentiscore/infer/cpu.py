"""What the CPU can do: model name and the instruction-set features that decide int8 / bf16
speed (AVX2, AVX-512 VNNI, AMX, ARM dot-product), read at run time from the OS.

Used to explain ``--precision auto`` in the log and to label every ``bench`` figure. It
decides nothing by itself; the precision policy is ``bundle``'s.
"""

from __future__ import annotations

import functools
import os
import platform

# Features that matter for transformer inference, in the spelling of /proc/cpuinfo.
FEATURES = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "asimddp",
    "i8mm",
    "bf16",
    "sve",
)


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict:
    """{"model", "arch", "cores", "features"}: features is the subset of ``FEATURES`` present."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "cpu model", "hardware") and model in (
                    "",
                    "unknown",
                    platform.machine(),
                ):
                    model = value.strip()
                elif key in ("flags", "features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        cores = os.cpu_count() or 1
    return {
        "model": model,
        "arch": platform.machine(),
        "cores": cores,
        "features": [f for f in FEATURES if f in flags],
    }


def int8_path() -> str:
    """The integer-matmul instructions ONNX Runtime's int8 kernels can use here."""
    feats = set(cpu_info()["features"])
    for name, label in (
        ("amx_int8", "AMX-INT8"),
        ("avx512_vnni", "AVX-512 VNNI"),
        ("avx_vnni", "AVX-VNNI"),
        ("avx2", "AVX2"),
        ("asimddp", "ARM dot-product"),
        ("asimd", "ARM NEON"),
    ):
        if name in feats:
            return label
    return "no SIMD int8 found"
