"""One run writes an output at a time: a second run into an output that another is writing
(with --overwrite, --resume or neither, on any engine) stops with one line before it touches
anything, and a holder killed with kill -9 leaves no lock behind."""

import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.io.lock import lock_path, locked
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light


def _src(path, n=50, seed=0):
    texts = [t for t, _ in sample_reviews(n, seed=seed)]
    pq.write_table(pa.table({"id": list(range(n)), "text": texts}), path)
    return path


def _score(src, out, bundle, *extra):
    args = ["score", str(src), "-m", bundle, "-o", str(out), "--silent", *extra]
    return CliRunner().invoke(cli, args)


@pytest.mark.parametrize("flag", [[], ["--overwrite"], ["--resume"]])
def test_a_second_run_into_an_output_being_written_is_refused(tiny_bundle, tmp_path, flag):
    a, b = _src(tmp_path / "a.parquet"), _src(tmp_path / "b.parquet", 30, seed=4)
    out = tmp_path / "out.parquet"
    assert _score(a, out, tiny_bundle).exit_code == 0
    before = out.read_bytes()
    with locked([str(out)]):  # as a first run holds it while it writes
        r = _score(b, out, tiny_bundle, *flag)
        assert r.exit_code == 1 and "being written by another sentiscore run" in r.output
        assert f"pid {os.getpid()}" in r.output and "Traceback" not in r.output
    assert out.read_bytes() == before  # untouched: no rows of b mixed in
    assert not os.path.exists(lock_path(str(out)))  # released and removed
    r = _score(b, out, tiny_bundle, "--overwrite")
    assert r.exit_code == 0 and pq.read_table(out).num_rows == 30


def test_engines_and_directories_of_outputs_are_locked_too(tiny_bundle, tmp_path):
    pytest.importorskip("pyspark")
    a = _src(tmp_path / "a.parquet")
    out = tmp_path / "scored"
    with locked([str(out)]):
        r = _score(a, out, tiny_bundle, "--engine", "spark", "--overwrite")
        assert r.exit_code == 1 and "being written by another" in r.output
        r = _score(a, f"{out}/", tiny_bundle)  # one output per input, under the directory
        assert r.exit_code == 0  # its outputs are the files inside, not the directory
    with locked([str(out / "a.scored.parquet")]):
        r = _score(a, f"{out}/", tiny_bundle, "--overwrite")
        assert r.exit_code == 1 and "a.scored.parquet" in r.output


def test_a_holder_killed_with_kill_9_leaves_the_output_free(tiny_bundle, tmp_path):
    a = _src(tmp_path / "a.parquet")
    out = tmp_path / "out.parquet"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from sentiscore.io.lock import locked\n"
         "with locked([sys.argv[1]]):\n    print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _score(a, out, tiny_bundle).exit_code == 1
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        time.sleep(0.1)
        r = _score(a, out, tiny_bundle)  # the stale lock file is no lock
        assert r.exit_code == 0, r.output
        assert pq.read_table(out).num_rows == 50
    finally:
        holder.kill()
