"""Exclusive locks on outputs: one run writes an output at a time.

A run holds ``.<name>.lock`` beside each local output (or the staging copy of an object-store
output) for as long as it runs, with ``flock``: a second run into the same output, with
``--overwrite`` or ``--resume`` or neither, stops at once with a one-line error naming the
run that holds it, instead of mixing its rows into the first run's file. The kernel releases
the lock when the holder dies (kill -9 included), so a crashed run never blocks its resume.
The lock file is removed on release; a run that acquired a lock on a file since removed
retries on the new one. Without ``fcntl`` (Windows) outputs are not locked. What is written,
and where, is the callers' business.
"""

from __future__ import annotations

import contextlib
import os

from sentiscore.errors import OutputError, OutputExistsError


def lock_path(output: str) -> str:
    parent, name = os.path.split(os.path.abspath(output.rstrip("/" + os.sep)))
    return os.path.join(parent, f".{name}.lock")


@contextlib.contextmanager
def locked(outputs: list[str]):
    """Hold the locks of ``outputs`` (local paths) for the ``with`` block."""
    try:
        import fcntl
    except ImportError:  # no flock: outputs are not locked
        yield
        return
    held: list[tuple[str, int]] = []
    try:
        for output in sorted(set(outputs)):
            held.append((lock_path(output), _acquire(fcntl, output)))
        yield
    finally:
        for path, fd in reversed(held):
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still held: a waiting opener sees it gone and retries
            os.close(fd)


def _acquire(fcntl, output: str) -> int:
    path = lock_path(output)
    while True:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only place, a path through a file, ...
            raise OutputError.from_os(exc, output) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise OutputExistsError(
                "An output that no other run is writing",
                f"'{output}' is being written by another sentiscore run (pid {holder})",
                "wait for it to finish (then --resume or --overwrite), or write elsewhere",
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file its holder has just removed
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)
