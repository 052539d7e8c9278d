"""kill -9 at seeded moments, then --resume: the output is bitwise what an uninterrupted run
writes, with no temporary files left. Ten trials: kills between parts, in the middle of a part
write (after the data, before the rename) and in the middle of the final write."""

import os
import random
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.infer.files import score_files
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light

ROWS, PART = 1200, 40
TRIALS = [(seed, ("between-parts", "part-write", "final-write")[seed % 3]) for seed in range(10)]

CHILD = """
import os, signal, sys
from sentiscore.io import writers
src, bundle, out, kind, k = sys.argv[1:6]
k, real, parts = int(k), writers._write_file, [0]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def hooked(path, batches, fmt, schema, name):
    if kind == "part-write" and "part-" in os.path.basename(path):
        parts[0] += 1
        if parts[0] == k:
            real(path, batches, fmt, schema, name)
            die()  # the part's data is written, its rename never happens
    if kind == "final-write" and "part-" not in os.path.basename(path):
        def some():
            for i, b in enumerate(batches):
                if i == k:
                    die()
                yield b
        return real(path, some(), fmt, schema, name)
    return real(path, batches, fmt, schema, name)

writers._write_file = hooked
from sentiscore.infer.files import score_files
score_files([src], model=bundle, output=out, chunk_rows=PART_ROWS, max_tokens=64)
""".replace("PART_ROWS", str(PART))


@pytest.fixture(scope="module")
def reference(tiny_bundle, tmp_path_factory):
    d = tmp_path_factory.mktemp("kill9")
    rows = sample_reviews(ROWS, seed=4)
    src = d / "in.parquet"
    pq.write_table(pa.table({"id": list(range(ROWS)), "text": [t for t, _ in rows]}), src)
    ref = d / "ref.parquet"
    score_files([str(src)], model=tiny_bundle, output=str(ref), chunk_rows=PART, max_tokens=64)
    return str(src), pq.read_table(ref)


@pytest.mark.parametrize("seed,kind", TRIALS)
def test_kill9_then_resume_is_bitwise_identical(tiny_bundle, reference, tmp_path, seed, kind):
    src, ref = reference
    rng = random.Random(seed)
    out = str(tmp_path / "out.parquet")
    k = rng.randint(2, 20) if kind != "final-write" else rng.randint(1, 20)
    cmd = [sys.executable, "-c", CHILD, src, tiny_bundle, out, kind, str(k)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    if kind == "between-parts":
        parts, deadline = out + ".parts", time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if (
                os.path.isdir(parts)
                and len([n for n in os.listdir(parts) if n.endswith(".parquet")]) >= k
            ):  # noqa: E501
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=120) == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not os.path.exists(out)  # never a complete-looking output
    score_files([src], model=tiny_bundle, output=out, chunk_rows=PART, max_tokens=64, resume=True)
    assert pq.read_table(out).equals(ref)
    left = [n for n in os.listdir(tmp_path) if n != "out.parquet"]
    assert left == [], left  # no parts directory, no .tmp-PID files
