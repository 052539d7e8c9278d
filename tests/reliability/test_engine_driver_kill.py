"""kill -9 of the driver of an --engine ray|spark run while its workers score, then the same
command again: the rerun replaces the unfinished output (no --resume, no --overwrite needed),
commits it with _SUCCESS, and holds every input row exactly once, in input order, with the
scores of a local run. The output lock died with the driver."""

import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.testing import sample_reviews

# The first worker to score a batch kills the driver (its pid from the environment), then
# goes on slowly, as a worker would that has not yet noticed its driver is gone.
KILL_DRIVER = """
import os, signal, time
marker, driver = os.environ.get("SENTISCORE_TEST_KILL_DRIVER"), os.environ.get("DRIVER_PID")
if marker and driver:
    from sentiscore.infer import scorer as _scorer

    _real = _scorer.Scorer.score_batch

    def _score_batch(self, *args, **kwargs):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            time.sleep(0.2)
            return _real(self, *args, **kwargs)
        os.close(fd)
        os.kill(int(driver), signal.SIGKILL)
        time.sleep(1.0)
        return _real(self, *args, **kwargs)

    _scorer.Scorer.score_batch = _score_batch
"""


def _driver(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run ``cmd`` with the driver's own pid in DRIVER_PID (a shell that execs it)."""
    shell = 'export DRIVER_PID=$$; exec "$@"'
    return subprocess.run(
        ["bash", "-c", shell, "driver", *cmd], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("engine", ["ray", "spark"])
def test_rerun_after_the_driver_was_killed(engine, tiny_bundle, tmp_path):
    pytest.importorskip("ray" if engine == "ray" else "pyspark")
    n = 600
    src = tmp_path / "in.parquet"
    texts = [t for t, _ in sample_reviews(n, seed=4)]
    pq.write_table(pa.table({"id": list(range(n)), "text": texts}), src, row_group_size=50)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_DRIVER)
    marker, out = tmp_path / "killed", tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
        "SENTISCORE_TEST_KILL_DRIVER": str(marker),
        "PYSPARK_PYTHON": sys.executable,
    }
    cmd = [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle]
    cmd += ["-o", str(out), "--engine", engine, "--workers", "2", "--silent"]
    killed = _driver(cmd, env)
    assert killed.returncode == -signal.SIGKILL or killed.returncode == 128 + signal.SIGKILL
    assert marker.exists() and not (out / "_SUCCESS").exists()
    time.sleep(1.0)  # orphaned workers of the dead driver may still write a part
    again = subprocess.run(
        cmd, env={**env, "SENTISCORE_TEST_KILL_DRIVER": ""}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    from pyarrow import fs

    from sentiscore.io.commit import listed_parts

    listed = sorted(listed_parts(fs.LocalFileSystem(), str(out)))
    got = pa.concat_tables(pq.read_table(out / name) for name in listed)
    assert got.column("id").to_pylist() == list(range(n))  # every row once, in input order
    local = tmp_path / "local.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle, "-o",
         str(local), "--silent"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    want = pq.read_table(local)
    for name in want.column_names:
        if name.startswith("prob_"):
            diff = pa.compute.max(pa.compute.abs(pa.compute.subtract(got[name], want[name])))
            assert diff.as_py() <= 1e-6, name
        else:
            assert got[name].to_pylist() == want[name].to_pylist(), name
