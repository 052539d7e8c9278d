"""Start-up noise of the cluster engines, kept off the terminal unless sentiscore's logger is
at DEBUG (the CLI's ``-v``): Ray's INFO lines, Ray Data's notes on disabled bars, PySpark's
pandas warning and Spark's log4j start-up lines in local mode. Lines the engines' native code
writes to stderr (Ray's C++ core, the JVM) are filtered by the CLI (``cli.logs.NATIVE_NOISE``). Warnings and errors that say
something about the run still come through. Only sessions sentiscore starts itself are
touched: a cluster joined through RAY_ADDRESS or spark-submit keeps its own settings.

What each engine does with its workers is in ``engines.run``; how stderr looks is the CLI's.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings

# Lines that say nothing about the run: sentiscore starts the local instance, turns the bars
# off itself (--silent), and ships no actor arguments that could be lost.
_RAY_NOISE = (
    "Token authentication is enabled",
    "Progress bars disabled",
    "Started a local Ray instance",
)

_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


def verbose() -> bool:
    return logging.getLogger("sentiscore").isEnabledFor(logging.DEBUG)


class _DropNoise(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        return not any(part in message for part in _RAY_NOISE)


def ray_init_options() -> dict:
    """``ray.init`` keywords for a local instance sentiscore starts."""
    return {} if verbose() else {"logging_level": logging.WARNING}


def quiet_ray_loggers() -> None:
    """Ray Data's console lines at WARNING and above (its execution plans and 'finished in'
    lines still reach its session log files), and none of the notes above."""
    if verbose():
        return
    import ray.data  # noqa: F401 - configures its loggers on import

    for name in ("ray", "ray.data"):
        logger = logging.getLogger(name)
        _drop_noise(logger)
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                handler.setLevel(max(handler.level, logging.WARNING))
                _drop_noise(handler)


def _drop_noise(target) -> None:
    if not any(isinstance(f, _DropNoise) for f in target.filters):
        target.addFilter(_DropNoise())


def quiet_pyspark() -> None:
    """PySpark warns on import that pandas >= 3 is not fully supported; sentiscore's Spark
    path uses no pandas (each task reads and writes Arrow), so the warning is not about it."""
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )


def spark_local_conf() -> dict:
    """Settings for a local-mode session sentiscore starts: a log4j2 configuration at WARN
    (ERROR for Hadoop's native-library note), so the start-up banner lines go; and the
    loopback address, so Spark does not warn that the hostname resolves to it."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if verbose():
        return {}
    path = _write_once("log4j2.properties", _LOG4J)
    return {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{path}"}


def _write_once(name: str, text: str) -> str:
    """A configuration file for a third-party library, in the temp directory, rewritten
    (atomically) only when its text changes."""
    path = os.path.join(tempfile.gettempdir(), f"sentiscore-{os.getuid()}-{name}")
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    except OSError:
        pass
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
