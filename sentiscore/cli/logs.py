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


# Native lines that say nothing about a run (unless -v): Ray's driver notes that Ray Data
# keeps its actors' arguments in the object store; the JVM notes Spark's incubator module.
NATIVE_NOISE = re.compile(
    r"core_worker\.cc:\d+: Actor with class name: .* max_restarts > 0"
    r"|^WARNING: Using incubator modules"
)


@contextlib.contextmanager
def native_stderr(source: str, bars: bool):
    """What reaches file descriptor 2 without going through our logging (a cluster engine's
    own log handlers, Ray's C++ core, Spark's JVM). Unless -v, the lines in ``NATIVE_NOISE``
    are dropped. Under --log-json each other line becomes a JSON object, ``{"level": ...,
    "logger": source, "msg": line}`` (JSON lines pass unchanged); otherwise it passes as it
    is, and Python's ``sys.stderr`` writes straight to the terminal, so that progress bars
    drawn in Python stay live. Spark draws its bars in the JVM, so with ``bars`` its stderr is
    left alone. A daemon thread pumps a pipe, since child processes (the JVM) may keep
    writing to it after we return."""
    as_json = STATE["json"]
    if not as_json and (STATE["verbose"] or (bars and source == "spark")):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    console = os.fdopen(saved, "w", buffering=1, encoding="utf-8")
    pump = threading.Thread(target=_pump, args=(read_end, console, source, as_json), daemon=True)
    pump.start()
    python_stderr = sys.stderr
    if not as_json:
        sys.stderr = console
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(console.fileno(), 2)  # our pipe's last writer in this process is gone
        pump.join(timeout=1.0)


_LEVEL = re.compile(
    r"\b(DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b|^\[[^\]]* ([IWEF]) \d+ \d+\]"
)
_GLOG = {"I": "info", "W": "warning", "E": "error", "F": "critical"}


def _pump(read_end: int, console, source: str, as_json: bool) -> None:
    with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            if not STATE["verbose"] and NATIVE_NOISE.search(text):
                continue
            if as_json and not (text.startswith("{") and _is_json(text)):
                text = _as_json(text, source)
            console.write(text + "\n")
    console.close()


def _as_json(text: str, source: str) -> str:
    found = _LEVEL.search(text[:80])
    level = "info"
    if found:
        level = _GLOG[found[2]] if found[2] else found[1].lower()
    level = {"warn": "warning", "fatal": "critical"}.get(level, level)
    return json.dumps(
        {"ts": round(time.time(), 3), "level": level, "logger": source, "msg": text},
        ensure_ascii=False,
    )


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


class TokenEta:
    """Time left, estimated by tokens rather than rows: the scorer runs each chunk's longest
    texts first, so rows/s early in a run says little about the rest. Rows of chunks not yet
    tokenised are assumed to be as long, on average, as those seen so far."""

    def __init__(self, total: int | None):
        self.total, self.start = total, time.perf_counter()
        self.rows = self.pending_rows = self.pending_tokens = 0
        self.planned_rows = self.planned_tokens = self.done_tokens = 0

    def plan(self, rows: int, tokens: int) -> None:
        if not self.planned_rows:  # the clock starts with the model, not with loading it
            self.start = time.perf_counter()
        self.pending_rows += rows
        self.pending_tokens += tokens
        self.planned_rows += rows
        self.planned_tokens += tokens

    def worked(self, rows: int, tokens: int) -> None:
        self.pending_rows -= rows
        self.pending_tokens -= tokens
        self.done_tokens += tokens

    def seconds_left(self, now: float | None = None) -> float | None:
        """None until a total is known and some tokens are done."""
        elapsed = (now or time.perf_counter()) - self.start
        if not self.total or not self.done_tokens or not self.planned_rows or elapsed <= 0:
            return None
        unplanned = max(self.total - self.rows - self.pending_rows, 0)
        tokens_left = self.pending_tokens + unplanned * self.planned_tokens / self.planned_rows
        return max(tokens_left, 0) / (self.done_tokens / elapsed)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Rows done: a tqdm bar on stderr, or under --log-json a 'progress' event every few
    seconds with rows/s and ETA. The ETA is by tokens (``TokenEta``) once the scorer reports
    them (``plan``/``worked``). Created lazily, so early errors print cleanly."""

    def __init__(self, total: int | None, every_s: float = 2.0):
        self.total, self.bar, self.every_s = total, None, every_s
        self.eta = TokenEta(total)
        self.rows, self.start, self.last = 0, time.perf_counter(), 0.0

    def plan(self, rows: int, tokens: int) -> None:
        self.eta.plan(rows, tokens)

    def worked(self, rows: int, tokens: int) -> None:
        self.eta.worked(rows, tokens)
        self(rows)

    def __call__(self, n: int) -> None:
        self.update(n)

    def update(self, n: int) -> None:
        self.rows += n
        self.eta.rows = self.rows
        if STATE["json"]:
            now = time.perf_counter()
            if now - self.last >= self.every_s or (self.total and self.rows >= self.total):
                self.last = now
                eta = self.eta.seconds_left(now)
                event(
                    "progress",
                    rows=self.rows,
                    total=self.total,
                    rows_per_s=round(self.rows / max(now - self.start, 1e-9), 1),
                    eta_s=None if eta is None else round(eta, 1),
                )
            return
        if self.bar is None:
            self.bar = _bar(self.total)
        self.bar.eta_text = _clock(self.eta.seconds_left())
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _bar(total: int | None):
    from tqdm import tqdm

    class TokenBar(tqdm):
        eta_text = "?"

        @property
        def format_dict(self):
            return {**super().format_dict, "eta": self.eta_text}

    fmt = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{eta}, {rate_fmt}]" if total else None
    return TokenBar(
        total=total,
        unit="rows",
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
        mininterval=0.5,
        bar_format=fmt,
    )
