"""The sentiscore error hierarchy.

Every error the library raises on purpose is a ``SentiscoreError``. Messages follow one shape:
what was expected, what was found, and how to fix it. Only ``cli.py`` turns these into exit
codes; library code never exits or prints.
"""

from __future__ import annotations


class SentiscoreError(Exception):
    """Base class. ``exit_code`` is what the CLI returns for it."""

    exit_code = 1

    def __init__(self, expected: str, found: str | None = None, fix: str | None = None):
        self.expected, self.found, self.fix = expected, found, fix
        parts = [expected.rstrip(".") + "."]
        if found:
            parts.append(f"Found: {found.rstrip('.')}.")
        if fix:
            parts.append(f"Fix: {fix.rstrip('.')}.")
        super().__init__(" ".join(parts))


class ConfigError(SentiscoreError):
    """A configuration value is invalid (bad option, conflicting flags)."""


class MissingDependencyError(SentiscoreError):
    """An optional package is needed for this feature but is not installed."""

    def __init__(self, package: str, extra: str, feature: str):
        super().__init__(
            f"{feature} needs the package '{package}'",
            f"'{package}' is not installed",
            f"pip install 'sentiscore[{extra}]'",
        )


class InputDataError(SentiscoreError):
    """Input data cannot be read or lacks what is needed (column, rows, labels)."""


class BadRowError(InputDataError):
    """A row cannot be scored and --strict was given, or more rows than --max-error-rate allows."""


class BundleError(SentiscoreError):
    """A model bundle is missing, incomplete, corrupt or of an unknown format."""


class DeviceError(SentiscoreError):
    """The requested device/provider is not available."""


class OutputExistsError(SentiscoreError):
    """Output exists and neither resume nor overwrite was requested."""


class OutputError(SentiscoreError):
    """The output could not be written (read-only, full disk, permissions, not a directory)."""

    @classmethod
    def from_os(cls, exc: OSError, path: str) -> OutputError:
        return cls(
            f"A writable output at '{path}'",
            f"{exc.strerror or first_line(exc)}"
            + (f": '{exc.filename}'" if getattr(exc, "filename", None) else ""),
            "choose another -o path, free disk space or fix the permissions; "
            "the inputs are untouched and no partial output is left under the final name",
        )


class ResumeError(SentiscoreError):
    """A resume was refused because inputs or the bundle changed."""


class ScoreInterrupted(SentiscoreError):
    """Scoring was interrupted (Ctrl-C or SIGTERM); ``saved_rows`` are kept for --resume."""

    exit_code = 130

    def __init__(self, saved_rows: int, where: str):
        self.saved_rows, self.where = saved_rows, where
        super().__init__(
            "Interrupted",
            f"{saved_rows} scored rows are saved ({where})",
            "run the same command with --resume to continue from there",
        )


class ExportError(SentiscoreError):
    """Export failed (unsupported model, unwritable output, conversion failure)."""


class ParityError(ExportError):
    """An exported variant disagrees with the source model beyond the gate."""


class TrainingError(SentiscoreError):
    """Training could not start or failed (bad data, model, or configuration)."""


def require(module: str, extra: str, feature: str):
    """Import ``module`` or raise ``MissingDependencyError`` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingDependencyError(module.split(".")[0], extra, feature) from exc


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, at most ``limit`` characters; the exception's
    type name when the message is empty (never an IndexError on an empty message)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
