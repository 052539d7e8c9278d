"""Inputs that used to be scored wrongly or crash: invalid UTF-8 in Parquet strings,
unterminated CSV quotes, long rows in micro-batches, SIGTERM."""

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
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light


def test_invalid_utf8_in_a_parquet_string_column_is_a_row_error(tiny_bundle, tmp_path):
    raw = pa.array([b"good film", b"bad \xff\xfe film", b"ok"], type=pa.binary())
    src = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": raw.view(pa.string())}), src)
    for out in ("o.parquet", "o.csv", "o.jsonl"):
        r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(tmp_path / out)])  # fmt: skip
        assert r.exit_code == 0, r.output
    got = pq.read_table(tmp_path / "o.parquet")
    assert got.column("error").to_pylist() == [None, "text is not valid UTF-8", None]
    assert got.column("text").to_pylist()[1] == "bad \ufffd\ufffd film"
    assert got.column("label").to_pylist()[0] is not None


@pytest.mark.parametrize(
    "body,line",
    [
        ('id,text\n1,"Great film\n2,Bad film\n', 2),
        ('id,text\n1,ok\n2,"Great film\n3,Bad film\n4,"fine"\n5,x\n', 3),
    ],
)
def test_unterminated_csv_quote_names_the_line(tiny_bundle, tmp_path, body, line):
    src = tmp_path / "q.csv"
    src.write_text(body)
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", "-"])
    assert r.exit_code == 1 and f"line {line}" in r.output and "quote" in r.output


def test_literal_and_multiline_quotes_still_read(tiny_bundle, tmp_path):
    src = tmp_path / "ok.csv"
    src.write_text('id,text\n1,12" screen\n2,"He said ""wow"",\nthen left"\n3,"fine"\n')
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", "-", "--silent"])
    assert r.exit_code == 0, r.output
    assert 'He said ""wow"",\nthen left' in r.stdout and '12"" screen' in r.stdout


def test_long_rows_make_narrow_micro_batches():
    import numpy as np

    from sentiscore.infer.batching import ATTENTION_WIDTH, plan_batches

    long = plan_batches(np.full(16, 512), 4096)
    assert max(len(b) for b in long) * 512 * 512 <= 4096 * ATTENTION_WIDTH
    short = plan_batches(np.full(64, 64), 4096)
    assert max(len(b) for b in short) == 64  # short rows: only the token budget binds


def test_sigterm_saves_parts_and_says_how_to_resume(tiny_bundle, tmp_path):
    rows = sample_reviews(50, seed=2)
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": [t for t, _ in rows] * 300}), src)
    out = tmp_path / "o.parquet"
    cmd = [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle]
    cmd += [
        "-o",
        str(out),
        "--chunk-rows",
        "100",
        "--silent",
        "--threads",
        "1",
        "--max-tokens",
        "64",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    parts = tmp_path / "o.parquet.parts"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, err
    assert "scored rows are saved" in err and "--resume" in err and not out.exists()
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).num_rows == 15_000
    assert os.path.exists(out) and not parts.exists()
