"""How the CLI talks on stderr: plain lines, or with ``--log-json`` one JSON object per line
for everything (log records, Python warnings, errors, progress events, the summary).

``--log-json`` and ``-v`` are accepted before or after the subcommand. Library code only logs;
this module decides how that looks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
import warnings

import click

STATE = {"json": False, "verbose": False}


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        return json.dumps(
            {
                "ts": round(record.created, 3),
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": record.getMessage(),
            },
            ensure_ascii=False,
        )


def setup_logging(verbose: bool | None = None, log_json: bool | None = None) -> None:
    """(Re)configure logging; None keeps the current setting of that flag."""
    if verbose is not None:
        STATE["verbose"] = STATE["verbose"] or verbose
    if log_json is not None:
        STATE["json"] = STATE["json"] or log_json
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if STATE["json"]
        else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)  # Python warnings become log records (JSON under --log-json)
    warnings.formatwarning = _one_line  # without the source line printed under the message
    logging.getLogger("sentiscore").setLevel(
        logging.DEBUG if STATE["verbose"] else logging.INFO if STATE["json"] else logging.WARNING
    )


def _one_line(message, category, filename, lineno, line=None) -> str:
    return f"{filename}:{lineno}: {category.__name__}: {message}"


class _Ours(logging.Filter):
    def __init__(self, ours: bool):
        super().__init__()
        self.ours = ours

    def filter(self, record):
        return record.name.startswith("sentiscore") == self.ours


@contextlib.contextmanager
def third_party_to(path: str):
    """Unless -v: what other libraries write to stderr (Python warnings, their log records,
    C++ messages on file descriptor 2) goes to the file ``path``, while sentiscore's own log
    records still reach the terminal. Yields True when redirected."""
    if STATE["verbose"]:
        yield False
        return
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        f = open(path, "ab")  # noqa: SIM115 - closed right after the dup2
    except OSError:  # the command itself reports the unwritable directory
        yield False
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with f:
        os.dup2(f.fileno(), 2)
    console = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8")
    root = logging.getLogger()
    handlers = list(root.handlers)
    ours, theirs = logging.StreamHandler(console), logging.StreamHandler(sys.stderr)
    for h, mine in ((ours, True), (theirs, False)):
        h.setFormatter(handlers[0].formatter if handlers else None)
        h.addFilter(_Ours(mine))
    root.handlers[:] = [ours, theirs]
    try:
        yield True
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        root.handlers[:] = handlers
        console.close()


@contextlib.contextmanager
def native_stderr_as_json(source: str):
    """Under --log-json: lines that reach file descriptor 2 without going through our logging
    (a cluster engine's own log handlers, Ray's C++ core, Spark's JVM) become JSON objects too,
    ``{"level": ..., "logger": source, "msg": line}``; JSON lines pass unchanged. A daemon
    thread pumps a pipe, since child processes (the JVM) may keep writing to it after we return."""
    if not STATE["json"]:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    console = os.fdopen(saved, "w", buffering=1, encoding="utf-8")
    pump = threading.Thread(target=_pump, args=(read_end, console, source), daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # our pipe's last writer in this process is gone
        pump.join(timeout=1.0)


_LEVEL = re.compile(
    r"\b(DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b|^\[[^\]]* ([IWEF]) \d+ \d+\]"
)
_GLOG = {"I": "info", "W": "warning", "E": "error", "F": "critical"}


def _pump(read_end: int, console, source: str) -> None:
    with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            if not (text.startswith("{") and _is_json(text)):
                found = _LEVEL.search(text[:80])
                level = "info"
                if found:
                    level = _GLOG[found[2]] if found[2] else found[1].lower()
                level = {"warn": "warning", "fatal": "critical"}.get(level, level)
                line_ts = round(time.time(), 3)
                text = json.dumps(
                    {"ts": line_ts, "level": level, "logger": source, "msg": text},
                    ensure_ascii=False,
                )
            console.write(text + "\n")
    console.close()


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def event(name: str, **fields) -> None:
    """A structured event line (JSON mode only)."""
    if STATE["json"]:
        line = {"ts": round(time.time(), 3), "level": "info", "event": name, **fields}
        click.echo(json.dumps(line, ensure_ascii=False, default=str), err=True)


def error(message: str, exit_code: int, **fields) -> None:
    """The one error line: 'Error: ...' or a JSON object."""
    if STATE["json"]:
        line = {"ts": round(time.time(), 3), "level": "error", "msg": message}
        click.echo(json.dumps({**line, "exit_code": exit_code, **fields}, default=str), err=True)
    else:
        click.echo(f"Error: {message}", err=True)


def _set_json(ctx, _param, value):
    if value:
        setup_logging(log_json=True)
    return value


def _set_verbose(ctx, _param, value):
    if value:
        setup_logging(verbose=True)
    return value


def logging_options(f):
    """-v/--verbose and --log-json, for the group and for every subcommand."""
    f = click.option(
        "--log-json",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_json,
        help="Every stderr line as JSON: logs, warnings, errors, progress, summary.",
    )(f)
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_verbose,
        help="Debug logging, third-party warnings, and full tracebacks on errors.",
    )(f)


class Progress:
    """Rows done: a tqdm bar on stderr, or under --log-json a 'progress' event every few
    seconds with rows/s and ETA. Created lazily, so early errors print cleanly."""

    def __init__(self, total: int | None, every_s: float = 2.0):
        self.total, self.bar, self.every_s = total, None, every_s
        self.rows, self.start, self.last = 0, time.perf_counter(), 0.0

    def update(self, n: int) -> None:
        self.rows += n
        if STATE["json"]:
            now = time.perf_counter()
            if now - self.last >= self.every_s or (self.total and self.rows >= self.total):
                self.last = now
                rate = self.rows / max(now - self.start, 1e-9)
                eta = (self.total - self.rows) / rate if self.total and rate else None
                event(
                    "progress",
                    rows=self.rows,
                    total=self.total,
                    rows_per_s=round(rate, 1),
                    eta_s=None if eta is None else round(eta, 1),
                )
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                unit="rows",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
                mininterval=0.5,
            )
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
