"""Where ``score_files`` writes, and what it may touch there: one output per input or one for
all, never an input; what an existing output means under ``--resume``/``--overwrite``; the
manifest that ties an output to the inputs, bundle and options that made it.

An unfinished output is ``<output>.parts/`` (manifest.json, a parts ledger, Parquet parts);
a finished Parquet output carries the same manifest in its key-value metadata, so that a
resume can check a finished output as well as an unfinished one. Scoring and writing parts
are ``files``'s business.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass

from sentiscore.errors import (
    ConfigError,
    OutputError,
    OutputExistsError,
    ResumeError,
    first_line,
)
from sentiscore.io import remote
from sentiscore.io.commit import MANIFEST_NAME
from sentiscore.io.readers import InputFile, fingerprint, map_inputs
from sentiscore.io.remote import is_remote, staging_path
from sentiscore.io.uris import split_query
from sentiscore.io.writers import extension, output_format

log = logging.getLogger(__name__)
METADATA_KEY = "sentiscore.manifest"


@dataclass
class Job:
    inputs: list[InputFile]
    output: str  # a local path; for an object-store output, its staging copy
    fmt: str
    remote: str | None = None  # the object-store URI the finished output is uploaded to

    @property
    def parts_dir(self) -> str:
        return self.output + ".parts"


def plan_jobs(inputs: list[InputFile], cfg) -> list[Job]:
    """One output per input (beside it, or under -o DIR), or all inputs into one -o FILE;
    refused when an output (or its parts directory) would be an input."""
    out = cfg.output
    _need_output(out, inputs)
    base, query = split_query(out) if out is not None else (None, "")
    to_dir = out is not None and (
        base.endswith(("/", os.sep)) or (not is_remote(out) and os.path.isdir(out))
    )
    if out is not None and not to_dir:
        jobs = [_job(inputs, out, output_format(out, cfg.format))]
    else:
        fmt = cfg.format or "parquet"
        jobs = []
        for inp in inputs:
            parent = base if to_dir else os.path.dirname(inp.path)
            name = f"{inp.stem}.scored{extension(fmt)}"
            if is_remote(parent):  # the query (endpoint, ...) stays at the end of the URI
                target = parent.rstrip("/") + "/" + name + query
            else:
                target = os.path.join(parent, name)
            jobs.append(_job([inp], target, fmt))
    _refuse_duplicates(jobs)
    _refuse_inputs_as_outputs(jobs, inputs)
    stats = cfg.stats_json and _real(cfg.stats_json)
    for job in jobs if stats else ():
        if stats in (_real(job.output), _real(job.parts_dir)):
            raise ConfigError(
                "A --stats-json path that is not the output",
                f"'{cfg.stats_json}' is the output '{job.output}'",
                "choose another --stats-json path",
            )
    return jobs


def _job(inputs: list[InputFile], target: str, fmt: str) -> Job:
    if is_remote(target):
        return Job(inputs, staging_path(target), fmt, remote=target)
    return Job(inputs, target, fmt)


def _need_output(out: str | None, inputs: list[InputFile]) -> None:
    remote = [i.path for i in inputs if is_remote(i.path)]
    if out is None and remote:
        raise ConfigError(
            "-o for inputs on object storage (a local file or directory, or an s3:// one)",
            f"no -o for '{remote[0]}'",
            "pass -o, e.g. -o scored/ or -o s3://bucket/scored/",
        )


def _refuse_duplicates(jobs: list[Job]) -> None:
    names = [j.output for j in jobs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise OutputExistsError(
            "One output file per input",
            f"several inputs map to {dup}",
            "pass -o FILE to combine them, or rename inputs",
        )


def _real(path: str) -> str:
    return path if "://" in path else os.path.realpath(path)


def _refuse_inputs_as_outputs(jobs: list[Job], inputs: list[InputFile]) -> None:
    sources = {_real(i.path) for i in inputs}
    for job in jobs:
        for path in (job.output, job.parts_dir, job.remote or job.output):
            if _real(path) in sources:
                raise OutputExistsError(
                    "An output that is not one of the inputs",
                    f"'{job.output}' is the input '{path}'",
                    "write to another -o path (the input is left untouched)",
                )


def manifest(job: Job, scorer, options: dict, job_limit: int | None) -> dict:
    """Everything that changes the job's result: inputs, bundle, variant, engine, options and
    the number of rows this job may take under --limit."""
    return {
        "inputs": map_inputs(fingerprint, job.inputs),
        "bundle": scorer.bundle.fingerprint(),
        "precision": scorer.precision,
        "device": scorer.device,
        "engine": "local",
        "options": options,
        "job_limit": job_limit,
    }


def changed(old: dict | None, new: dict) -> str:
    """What differs between two manifests, naming options as --flags."""
    if old is None:
        return "the manifest is missing"
    what = []
    for key in new:
        if key == "options":
            opts = old.get("options") or {}
            what += [
                f"--{k.replace('_', '-')} {opts.get(k)!r} -> {v!r}"
                for k, v in new["options"].items()
                if opts.get(k) != v
            ]
        elif old.get(key) != new[key]:
            what.append(
                {
                    "inputs": "the input files",
                    "bundle": "the bundle (--model)",
                    "job_limit": "--limit or the rows before this output",
                }.get(key, key)
            )
    return ", ".join(what) or "the manifest format"


def _read_manifest(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            found = json.load(f)
        if not isinstance(found, dict):
            raise ValueError("not a JSON object")
        return found
    except (OSError, ValueError) as exc:
        raise ResumeError(
            "A readable resume manifest",
            f"'{path}' is damaged ({first_line(exc, 80)})",
            "use --overwrite to start this output again",
        ) from exc


def _finished_file(job: Job):
    """The finished output, opened for reading (local path or object-store file)."""
    return remote.open_input(job.remote) if job.remote else job.output


def finished_manifest(job: Job) -> dict | None:
    """The manifest a finished Parquet output carries (None for other formats or none)."""
    if job.fmt != "parquet":
        return None
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(_finished_file(job)).metadata or {}
        return json.loads(meta[METADATA_KEY.encode()])
    except (OSError, KeyError, ValueError, TypeError):
        return None


def finished_rows(job: Job) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(_finished_file(job)).metadata.num_rows


def finish(job: Job) -> None:
    """Publish a finished local output: for an object-store target, one upload, then the
    staging copy goes."""
    if job.remote:
        try:
            remote.upload(job.output, job.remote)
        except OSError as exc:
            raise OutputError(
                f"An upload of the scored output to '{job.remote}'",
                first_line(exc),
                f"check the credentials and the network; the scored file is kept in "
                f"'{job.output}': rerun with --resume to upload it without scoring again",
            ) from exc
        os.remove(job.output)


def clean_orphans(output: str) -> None:
    """Remove '<output>.tmp-PID' files left by runs that were killed while writing."""
    parent = os.path.dirname(os.path.abspath(output))
    prefix = os.path.basename(output) + ".tmp-"
    if not os.path.isdir(parent):
        return
    for name in os.listdir(parent):
        if name.startswith(prefix) and not _alive(name[len(prefix) :]):
            log.info("removing %s, left by a killed run", name)
            os.remove(os.path.join(parent, name))


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return int(pid) != os.getpid()


def prepare_output(job: Job, wanted: dict, cfg) -> bool:
    """Apply --resume/--overwrite to existing output. False when the job is already done."""
    clean_orphans(job.output)
    parts = os.path.isdir(job.parts_dir)
    exists = remote.exists(job.remote) if job.remote else os.path.exists(job.output)
    if cfg.overwrite:
        if exists and job.remote:
            remote.delete(job.remote)
        elif exists:
            os.remove(job.output)
        shutil.rmtree(job.parts_dir, ignore_errors=True)
    elif cfg.resume and parts:
        old = _read_manifest(os.path.join(job.parts_dir, MANIFEST_NAME))
        if old != wanted:
            raise ResumeError(
                "--resume to continue with the same inputs, bundle and options",
                f"changed since the interrupted run: {changed(old, wanted)}",
                "rerun with the earlier values, or use --overwrite to start again",
            )
        return True
    elif cfg.resume and exists:
        return _check_finished(job, wanted)
    elif cfg.resume and job.remote and _staged_and_finished(job, wanted):
        log.info("%s was scored but not uploaded: uploading it", job.remote)
        finish(job)
        return False
    elif exists or parts:
        raise OutputExistsError(
            "An output path that is free",
            f"'{(job.remote or job.output) if exists else job.parts_dir}' exists",
            "pass --resume to continue it or --overwrite to replace it",
        )
    os.makedirs(job.parts_dir, exist_ok=True)
    tmp = os.path.join(job.parts_dir, MANIFEST_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(wanted, f, indent=1)
    os.replace(tmp, os.path.join(job.parts_dir, MANIFEST_NAME))
    return True


def _staged_and_finished(job: Job, wanted: dict) -> bool:
    """Whether an object-store job's staging copy is its finished output (an upload that
    failed), written with these inputs, bundle and options."""
    if not os.path.isfile(job.output):
        return False
    return finished_manifest(Job(job.inputs, job.output, job.fmt)) == wanted


def _check_finished(job: Job, wanted: dict) -> bool:
    old = finished_manifest(job)
    if old is None:
        raise ResumeError(
            "--resume of a finished output to find the record of the run that wrote it",
            f"'{job.remote or job.output}' has none (only Parquet outputs written by sentiscore carry it)",
            "keep it as it is, or use --overwrite to score again",
        )
    if old != wanted:
        raise ResumeError(
            "--resume of a finished output to match the inputs, bundle and options",
            f"'{job.remote or job.output}' was written with other ones: {changed(old, wanted)}",
            "use --overwrite to score again with the new ones",
        )
    log.info("%s is complete; nothing to resume", job.remote or job.output)
    return False
