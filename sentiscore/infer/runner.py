"""The runner interface: what every inference engine offers the scorer, and the helpers
all of them share (threads, input feeds, micro-batches in flight).

A runner holds one loaded model file on one device and turns micro-batches of token ids into
logits: ``run(input_ids, attention_mask)`` for one micro-batch, ``run_all(batches)`` for many
with ``streams`` of them in flight. ``session.OrtRunner`` (ONNX Runtime, CPU and CUDA) and
``openvino.OpenVinoRunner`` (OpenVINO, CPU) implement it; ``runners.make_runner`` picks one
for a precision. This module imports no other sentiscore module, so the engines and the
factory import it without a cycle. Which precision to run is ``bundle``'s and ``auto``'s business; what the logits mean
is ``scorer``'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Protocol

import numpy as np

CPU_STREAMS = 2  # concurrent micro-batches on CPU (see ``session``)


class Runner(Protocol):
    device: str
    streams: int
    input_names: list[str]
    # Whether a row's logits stay the same when it is padded (masked) to a longer batch. ONNX
    # Runtime's: yes (within 1e-7 in fp32, bit for bit in per-row int8). OpenVINO's: not for
    # quantised or bf16 graphs (its kernels round differently per sequence length, and a
    # static scale turns that into a whole quantisation step: up to 5e-3 in probability on
    # 512-token reviews); so the scorer pads each row for it to a width set by the row's own
    # length alone (``batching.row_width``), batching rows of one width.
    pads_exactly: bool

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits (n, num_labels) as float32 for one micro-batch."""

    def run_all(self, batches: Iterable) -> Iterator[tuple[object, np.ndarray]]:
        """(micro-batch, logits) for every micro-batch, in completion order."""


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def feeds_for(input_names: list[str], input_ids: np.ndarray, attention_mask: np.ndarray) -> dict:
    """The model's inputs for one micro-batch (token_type_ids all zero when it takes them)."""
    feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
    if "token_type_ids" in input_names:
        feeds["token_type_ids"] = np.zeros_like(input_ids)
    return {k: v for k, v in feeds.items() if k in input_names}


def run_streams(
    run: Callable[[np.ndarray, np.ndarray], np.ndarray], streams: int, batches: Iterable
) -> Iterator[tuple[object, np.ndarray]]:
    """(micro-batch, logits) for every micro-batch, ``streams`` of them in flight at once (the
    engines release the GIL and are safe to share between threads). Results come in completion
    order, so a stream never idles behind a longer batch; callers place them by
    ``micro_batch.rows``."""
    if streams == 1:
        for mb in batches:
            yield mb, run(mb.input_ids, mb.attention_mask)
        return
    with ThreadPoolExecutor(streams, thread_name_prefix="sentiscore-run") as pool:
        pending: dict = {}
        for mb in batches:
            if len(pending) >= streams:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
            pending[pool.submit(run, mb.input_ids, mb.attention_mask)] = mb
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()
