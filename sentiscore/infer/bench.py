"""``sentiscore bench``: measure every variant of a bundle on this machine and these texts.

For each variant the device can run: rows/s and tokens/s of the scorer (tokenise, bucket,
run, softmax; median of interleaved rounds after a warm-up), padding efficiency, and a
row-invariance check (rows scored alone vs in batches: max |dp| and label flips). It also
says which variant ``--precision auto`` picks and why, and labels everything with the CPU
model, features and versions. Writes ``bench.json`` and ``bench.md``. Reading and writing
files are not timed (``benchmarks/`` has end-to-end scripts).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass

import numpy as np

from sentiscore import __version__
from sentiscore.errors import ConfigError, InputDataError, SentiscoreError
from sentiscore.infer.bundle import load_bundle
from sentiscore.infer.config import check_run_options
from sentiscore.infer.cpu import cpu_info, int8_path
from sentiscore.infer.precision import choose, runnable
from sentiscore.infer.scorer import INVARIANCE_ROWS, Scorer
from sentiscore.infer.session import resolve_device

log = logging.getLogger(__name__)


@dataclass
class BenchConfig:
    """Options of ``sentiscore bench``.

    model: bundle directory or "default". data: files/dirs/globs to take texts from (empty:
    the built-in sample of sentences, paragraphs and long reviews). text_column: their text
    column. rows: texts per round (data repeated when shorter). rounds: timed rounds per
    variant, interleaved. device / threads / max_tokens: as in ``score``. output: directory
    for bench.json and bench.md.
    """

    model: str = "default"
    data: tuple = ()
    text_column: str | None = None
    rows: int = 1000
    rounds: int = 3
    device: str = "auto"
    threads: int | None = None
    max_tokens: int | None = None
    output: str = "sentiscore-bench"

    def __post_init__(self):
        self.data = tuple([self.data] if isinstance(self.data, str) else self.data)
        if self.rows < 8 or self.rounds < 1:
            raise ConfigError(
                "--rows >= 8 and --rounds >= 1", f"{self.rows}, {self.rounds}", "use the defaults"
            )
        check_run_options(self.device, "auto", self.threads, self.max_tokens)


def load_texts(cfg: BenchConfig) -> tuple[list[str], str]:
    """``cfg.rows`` valid texts and where they came from."""
    if not cfg.data:
        from sentiscore.samples import builtin_sample

        texts, source = builtin_sample(min(cfg.rows, 200)), "built-in sample"
    else:
        from sentiscore.io.texts import read_texts

        sample = read_texts(list(cfg.data), cfg.rows, cfg.text_column)
        texts, source = sample.texts, sample.source
        if not texts:
            raise InputDataError("Non-empty texts to benchmark", f"none in {source}", "check DATA")
    reps = -(-cfg.rows // len(texts))
    return (texts * reps)[: cfg.rows], source


def _time(scorer: Scorer, texts: list[str]) -> tuple[float, int, float]:
    scorer.stats.real_tokens = scorer.stats.computed_tokens = 0
    start = time.perf_counter()
    scorer.probabilities(texts)
    seconds = time.perf_counter() - start
    return seconds, scorer.stats.real_tokens, scorer.stats.padding_efficiency


def run_bench(cfg: BenchConfig) -> dict:
    """Benchmark every runnable variant; write bench.json / bench.md; return the report."""
    bundle = load_bundle(cfg.model)
    device = resolve_device(cfg.device)
    texts, source = load_texts(cfg)
    scorers = {}
    for precision in runnable(bundle, device):
        scorers[precision] = Scorer(bundle, device, precision, cfg.threads, cfg.max_tokens)
        scorers[precision].probabilities(texts[:16])  # warm-up
    if not scorers:
        raise SentiscoreError(
            f"A variant of {bundle.path} that runs on {device}",
            f"variants {sorted(bundle.variants())}",
            "pick another --device or re-export",
        )
    runs: dict = {p: [] for p in scorers}
    for _ in range(cfg.rounds):
        for p, scorer in scorers.items():
            runs[p].append(_time(scorer, texts))
    variants = [_summary(p, scorers[p], runs[p], texts) for p in scorers]
    report = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "bundle": bundle.name,
        "bundle_version": bundle.meta.get("version"),
        "texts": source,
        "rows": len(texts),
        "rounds": cfg.rounds,
        "device": device,
        "cpu": cpu_info(),
        "int8_instructions": int8_path(),
        "versions": _versions(),
        "variants": variants,
        "auto": _auto(bundle, device),
        "config": asdict(cfg),
    }
    _write(report, cfg.output)
    return report


def _summary(precision: str, scorer: Scorer, runs: list, texts: list[str]) -> dict:
    seconds, n = float(np.median([r[0] for r in runs])), len(texts)
    return {
        "precision": precision,
        "row_invariant": scorer.bundle.row_invariant(precision),
        "rows_per_s": round(n / seconds, 1),
        "tokens_per_s": round(runs[0][1] / seconds, 1),
        "padding_efficiency": round(runs[0][2], 4),
        "seconds_per_round": [round(r[0], 3) for r in runs],
        "invariance": scorer.invariance(texts[:INVARIANCE_ROWS]),
    }


def _auto(bundle, device: str) -> dict:
    """What ``--precision auto`` takes here and why (on the CPU: auto's measurement)."""
    try:
        choice = choose(bundle, device, "auto")
    except SentiscoreError as exc:
        return {"precision": None, "why": str(exc)}
    out = {"precision": choice.precision, "why": choice.reason}
    if device == "cpu":
        from sentiscore.infer.auto import decide

        d = decide(bundle)  # cached by choose: no second measurement
        out.update(measured_rows_per_s=d.rows_per_s, not_taken=d.skipped)
    return out


def _versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version(), "sentiscore": __version__}
    for name in ("onnxruntime", "onnxruntime-gpu", "tokenizers", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _write(report: dict, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bench.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(out_dir, "bench.md"), "w", encoding="utf-8") as f:
        f.write(markdown(report))


def markdown(report: dict) -> str:
    cpu = report["cpu"]
    lines = [
        f"# sentiscore bench: {report['bundle_version'] or ''} {report['bundle']}",
        "",
        f"{report['date']}; {report['rows']} rows of {report['texts']}; {report['device']}; "
        f"CPU {cpu['model']} ({cpu['arch']}, {cpu['cores']} cores, {' '.join(cpu['features']) or 'no listed features'})",
        "",
        "| variant | row-invariant | rows/s | tokens/s | padding eff. | max dp alone vs batched | flips |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for v in report["variants"]:
        inv = v["invariance"]
        lines.append(
            f"| {v['precision']} | {'yes' if v['row_invariant'] else 'no'} | {v['rows_per_s']:.1f} | "
            f"{v['tokens_per_s']:.0f} | {v['padding_efficiency']:.3f} | {inv['max_dp']:.1e} | {inv['flips']} |"
        )
    auto = report["auto"]
    lines += ["", f"`--precision auto` picks **{auto['precision']}**: {auto['why']}", ""]
    return "\n".join(lines)
