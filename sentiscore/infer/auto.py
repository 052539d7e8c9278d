"""``--precision auto`` on the CPU: the fastest row-invariant variant that passed its gate,
measured on this machine.

Which variant is fastest depends on the CPU (AMX runs bf16 best, AVX-512 VNNI static int8,
AVX2 per-row int8...), on the model and on the library versions, so ``auto`` does not guess:
the first time a bundle is scored on a machine it runs every candidate on the same built-in
texts (short sentences and 512-token reviews, the same length-sorted micro-batches) and keeps
the fastest. The result is cached in ``$SENTISCORE_CACHE/auto`` under a key of the CPU model
and features, bundle manifest and library versions, so later runs pick the same variant at
once and a new CPU, bundle or library measures again. The run's own thread count is not part
of the decision (candidates are always timed on all of this machine's cores), so a row's
scores do not change with ``--threads``; engines decide once on the driver and hand the
workers the concrete precision (``scorer.resolve_precision``). Candidates are the variants
of ``CPU_ORDER`` that the bundle holds, that passed their export gate, that are row-invariant
and whose engine runs here; the others are reported with why. Loading bundles is ``bundle``'s
job, running variants ``runner``'s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field

from sentiscore.choices import BF16_PRECISIONS

log = logging.getLogger(__name__)
# Every CPU precision auto may take, in the order used when speeds tie (and for a lone one).
CPU_ORDER = ("int8-static", "int8-static-bf16", "bf16", "int8", "fp32")
CACHE_FORMAT = 5  # 3: OpenVINO rows padded to row widths; 4: int8-static-bf16; 5: PAD_STEP 4
SAMPLE_ROWS = 48  # built-in texts: 36 of 1-8 sentences, 12 of ~512 tokens
MIN_SECONDS = 0.5  # each candidate is timed for at least this long (best pass counts)


@dataclass
class Decision:
    precision: str
    why: str
    rows_per_s: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)  # precision -> why it was not a candidate
    cached: bool = False


def candidates(bundle, skip=()) -> tuple[list[str], dict]:
    """(CPU precisions auto may measure, {precision: why not} for the others)."""
    from sentiscore.infer.manifest import FILE_OF

    variants, ok, why = bundle.variants(), [], {}
    for p in CPU_ORDER:
        v = variants.get(FILE_OF.get(p, p))
        if p in skip:
            why[p] = "not row-invariant on this machine (checked at load)"
        elif not v:
            why[p] = f"the bundle has no {FILE_OF.get(p, p)} variant"
        elif v.get("status", "ok") != "ok":
            reasons = v.get("failed_on") or [f"status {v.get('status')}"]
            why[p] = f"failed its export gate ({'; '.join(reasons)})"
        elif not bundle.row_invariant(p):
            why[p] = "quantises activations per micro-batch (scores depend on the batch)"
        elif p in BF16_PRECISIONS and not _bf16_here()[0]:
            why[p] = _bf16_here()[1]
        else:
            ok.append(p)
    return ok, why


def _bf16_here() -> tuple[bool, str]:
    from sentiscore.infer.openvino import bf16_capabilities

    return bf16_capabilities()


def decide(bundle, skip=()) -> Decision:
    """The CPU precision ``auto`` runs for ``bundle``: measured once per machine and cached."""
    ok, skipped = candidates(bundle, skip)
    if not ok:
        return Decision("", "", skipped=skipped)
    if len(ok) == 1:
        return Decision(ok[0], f"{ok[0]}, the only candidate", skipped=skipped)
    path = _cache_path(bundle, ok)
    speeds = _read_cache(path)
    cached = speeds is not None
    if speeds is None:
        speeds = {p: measure(bundle, p) for p in ok}
        _write_cache(path, speeds)
    best = max(ok, key=lambda p: (speeds.get(p, 0.0), -ok.index(p)))
    return Decision(best, _why(best, speeds, cached), speeds, skipped, cached)


def _why(best: str, speeds: dict, cached: bool) -> str:
    from sentiscore.infer.cpu import cpu_info
    from sentiscore.infer.runners import ENGINE_NAMES, engine_for

    others = ", ".join(
        f"{speeds[best] / speeds[p]:.2f}x {p}" for p in speeds if p != best and speeds[p] > 0
    )
    how = "measured earlier on this machine" if cached else "measured now"
    return (
        f"{best} through {ENGINE_NAMES[engine_for(best, 'cpu')]}, the fastest row-invariant variant on "
        f"{cpu_info()['model']} ({others}; {how}, cached per CPU, bundle and library versions)"
    )


def measure(bundle, precision: str) -> float:
    """Rows/s of ``precision`` on the built-in sample, on all of this machine's cores: the
    best of passes over at least ``MIN_SECONDS`` (after one warm-up pass)."""
    from sentiscore.infer.batching import iter_micro_batches
    from sentiscore.infer.runners import make_runner
    from sentiscore.infer.tokenize import TextEncoder
    from sentiscore.samples import builtin_sample

    path = os.path.join(bundle.path, bundle.variants()[_file_of(precision)]["file"])
    enc = TextEncoder(bundle.tokenizer_path, bundle.max_length, bundle.truncation)
    ids = enc.encode(builtin_sample(SAMPLE_ROWS))
    try:
        runner = make_runner(precision, path, "cpu", None)
        same = not runner.pads_exactly  # batched as the scorer will batch for it
        batches = list(
            iter_micro_batches(ids, 4096, enc.pad_id, same_length=same, max_width=enc.max_length)
        )
        for _ in runner.run_all(batches):
            pass
        best, spent = float("inf"), 0.0
        while spent < MIN_SECONDS or best == float("inf"):
            start = time.perf_counter()
            for _ in runner.run_all(batches):
                pass
            took = time.perf_counter() - start
            best, spent = min(best, took), spent + took
    except Exception as exc:  # noqa: BLE001 - a candidate that cannot run is not chosen;
        # the scorer's own load checks then say what is wrong with the bundle
        log.debug("auto: %s could not be measured (%s)", precision, exc)
        return 0.0
    return round(len(ids) / best, 2)


def _file_of(precision: str) -> str:
    from sentiscore.infer.manifest import FILE_OF

    return FILE_OF.get(precision, precision)


def _cache_path(bundle, ok: list[str]) -> str:
    from importlib import metadata

    from sentiscore import __version__
    from sentiscore.infer.cpu import cpu_info
    from sentiscore.infer.fetch import cache_base
    from sentiscore.infer.runner import default_threads

    versions = {}
    for pkg in ("onnxruntime", "onnxruntime-gpu", "openvino"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    key = {
        "format": CACHE_FORMAT,
        "cpu": cpu_info(),
        "threads": default_threads(),
        "bundle": bundle.fingerprint(),
        "candidates": ok,
        "versions": versions,
        "sentiscore": __version__,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return os.path.join(cache_base(), "auto", f"{digest}.json")


def _read_cache(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            speeds = json.load(f)["rows_per_s"]
        return {str(k): float(v) for k, v in speeds.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_cache(path: str, speeds: dict) -> None:
    """Atomically (a second process measuring at the same time writes the same kind of
    file); a cache that cannot be written only costs a measurement next time."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".auto-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"rows_per_s": speeds, "measured": time.time()}, f)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("auto: cache not written (%s)", exc)
